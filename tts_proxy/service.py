"""Turn an OpenAI request into a search: resolve the TTS options, render the prompt, run the
engine on the live backend, and compose the answer."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
import time
import uuid
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tts_proxy.admission import BranchSlots
from tts_proxy.answers.readers import JSON, TEXT
from tts_proxy.backends.base import ModelServer, Passthrough, Sampling
from tts_proxy.confidence import TOP_K as CONFIDENCE_TOP_K
from tts_proxy.controllers import ControllerRegistry
from tts_proxy.controllers.base import Controller, Limits
from tts_proxy.engine import run_search
from tts_proxy.errors import InvalidRequestError, TTSProxyError
from tts_proxy.metrics import OTHER, Metrics
from tts_proxy.outcome import Outcome, Rendering, render
from tts_proxy.protocol import (
    NO_HEADERS,
    ChatCompletionRequest,
    CompletionRequest,
    TTSHeaders,
    TTSOptions,
    WorkflowSummary,
)
from tts_proxy.savings import SavingsEstimator, read_report, reference
from tts_proxy.search_request import SearchRequest, search_request
from tts_proxy.settings import Settings
from tts_proxy.streamed import ENGINES
from tts_proxy.traces import LABELS_FILE, LabelStore, TraceWriter, build_record
from tts_proxy.workflows.flops import ModelSizes
from tts_proxy.workflows.live import LivePlans
from tts_proxy.workflows.plan import StagePlan
from tts_proxy.workflows.tags import TAG_FIELDS, WorkflowTag, workflow_tag

log = logging.getLogger("tts_proxy")
# Stop reasons that mean the controller misbehaved (the engine stopped it).
CONTROLLER_FAULTS = ("controller_error", "round_limit", "no_progress")

PASSTHROUGH = "none"
EXPLORE = "explore"
# Room left in the context for the probe suffix and its answer.
_PROBE_ROOM = 48
# A branch cap below the chunk splits the branch into this many steps (chunks of at least
# MIN_CHUNK_TOKENS), so that a controller reading branches chunk by chunk has steps to read.
MIN_STEPS = 4
MIN_CHUNK_TOKENS = 16


@dataclass(frozen=True, slots=True)
class TTSPlan:
    """The resolved options of one TTS request."""

    model: str
    controller: str
    beta: float
    options: TTSOptions
    tag: WorkflowTag | None = None
    stage: StagePlan | None = None  # the workflow plan's choice for this stage, if any

    def workflow(self) -> WorkflowSummary | None:
        if self.tag is None:
            return None
        plan = None if self.stage is None else self.stage.describe()
        return WorkflowSummary(workflow=self.tag.workflow, stage=self.tag.stage,
                               run=self.tag.run, plan=plan)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Forwarded:
    """A plain request's answer: vLLM's response, relayed as it comes."""

    response: Passthrough


@dataclass(frozen=True, slots=True)
class Prepared:
    """A search checked and set up (``TTSService.prepare``), before any branch runs."""

    plan: TTSPlan
    request: ChatCompletionRequest | CompletionRequest
    request_id: str
    label: str  # the model as a metric label
    started: float  # perf_counter() when it arrived
    controller: type[Controller]
    spec: SearchRequest
    prompt_ids: list[int]
    limits: Limits
    sampling: Sampling


@dataclass(frozen=True, slots=True)
class Started:
    """A search, ready to run: ``work`` is its outcome (cancel it to stop every branch)."""

    request_id: str
    model: str  # the model the answer names (a workflow plan may have chosen another)
    work: Coroutine[Any, Any, Outcome]


class TTSService:
    """Runs TTS requests against one vLLM backend with the registry's controllers."""

    def __init__(
        self,
        settings: Settings,
        backend: ModelServer,
        registry: ControllerRegistry,
        metrics: Metrics | None = None,
        traces: TraceWriter | None = None,
    ):
        self.settings = settings
        self.backend = backend
        self.registry = registry
        self.metrics = metrics or Metrics(settings.savings_file)
        self.traces = traces
        self.labels = LabelStore(traces.directory / LABELS_FILE) if traces is not None else None
        self.savings = SavingsEstimator(settings.savings_reference_width or settings.max_branches)
        self.savings_report = read_report(settings.savings_file)
        self._suffix_ids: dict[str, tuple[int, ...]] = {}
        self._explore_draw = random.Random()
        self._reloading = asyncio.Lock()
        self.slots = BranchSlots(settings.max_concurrent_branches, settings.max_queued_searches)
        self._versions = registry.versions()
        self.metrics.count_controllers(registry)
        self.plans = LivePlans(settings, backend, registry, self.metrics)
        self.sizes = ModelSizes(settings.model_parameters)

    async def reload_controllers(self) -> dict[str, Any]:
        """Re-read the controllers directory: each new or changed file gets its verdict
        (data, trusted, sandboxed after the gate, or refused -- logged with the reason)."""
        async with self._reloading:
            await asyncio.to_thread(self.registry.reload)
            self._versions = self.registry.versions()
            self.savings_report = read_report(self.settings.savings_file)
        for path, why in self.registry.errors.items():
            log.warning("controller file %s not loaded: %s", path, why)
        self.metrics.controller_reloads.inc()
        self.metrics.count_controllers(self.registry)
        if self.settings.plans_dir is not None:
            await self.plans.reload()  # a plan's controller may have come or gone
        return {
            "controllers": self.registry.names(),
            "refused": dict(self.registry.errors),
            "files": [
                {"path": f.path, "trust": f.trust.value, "reason": f.reason,
                 "controllers": [c.name for c in f.controllers]}
                for f in self.registry.files
            ],
        }  # fmt: skip

    async def watch_controllers(self) -> None:
        """Reload whenever a file in the controllers directory appears, changes or goes."""
        self._versions = self.registry.versions()
        while True:
            await asyncio.sleep(self.settings.controllers_poll_seconds)
            if self.registry.versions() != self._versions:
                await self.reload_controllers()

    async def model_label(self, model: str) -> str:
        """The model as a metric label: a model the backend serves, else ``other``."""
        try:
            known = await self.backend.max_model_len(model) is not None
        except TTSProxyError:
            known = False
        return model if known else OTHER

    async def complete(
        self,
        request: ChatCompletionRequest | CompletionRequest,
        headers: TTSHeaders,
        raw: bytes,
        path: str,
    ) -> Forwarded | Started:
        """A completion request, parsed: passed through as the bytes it came as, or a search
        admitted and ready to run (a full queue is a 429 here, before anything is sent)."""
        plan = self.plan(request.model, request.tts, headers)
        if plan is None:
            _, model = self._alias(request.model)  # "sc/m" with controller "none": m
            if b'"tts"' not in raw and model == request.model:
                return Forwarded(await self.forward(path, raw, model))  # the bytes as they came
            return Forwarded(await self.forward(path, _forwarded_body(raw, model), model))
        prepared = await self.prepare(self._explored(plan), request)
        self.slots.check(prepared.limits.max_branches)
        model = plan.model if plan.stage is not None else request.model
        return Started(prepared.request_id, model, self.run(prepared))

    async def forward(self, path: str, body: bytes, model: str) -> Passthrough:
        """Pass a request body to the backend that serves ``model``, and count it."""
        label = await self.model_label(model)
        try:
            upstream = await self.backend.passthrough(path, body, model)
        except TTSProxyError:
            self.metrics.requests.labels(PASSTHROUGH, label, "error").inc()
            raise
        failed = upstream.status_code >= 400
        self.metrics.requests.labels(PASSTHROUGH, label, "error" if failed else "ok").inc()
        return upstream

    def plan(
        self, model: str, tts: TTSOptions | None, headers: TTSHeaders = NO_HEADERS
    ) -> TTSPlan | None:
        """The TTS plan of a request, or None when it is a plain passthrough. A workflow
        stage with a plan runs the plan's model, controller and budget."""
        tag = workflow_tag(tts, headers.tag)
        if tts is not None and tts.model_fields_set and tts.model_fields_set <= TAG_FIELDS:
            tts = None  # a block that only tags the request asks for no search itself
        if tag is not None:
            explore = tts is not None and tts.mode == "explore"
            stage = self.plans.resolve(tag, explore=explore)
            if stage is not None:
                return self._staged(tag, stage, tts or TTSOptions())
        controller, model = self._alias(model)
        if tts is None and controller is None and headers.beta is None:
            return None
        options = tts or TTSOptions()
        controller = options.controller or controller or self.settings.default_controller
        if controller == PASSTHROUGH:
            return None
        self.registry.get(controller)  # unknown names fail here, with the list of known ones
        beta = options.beta if options.beta is not None else headers.beta
        if beta is None:
            beta = self.settings.default_beta
        return TTSPlan(model, controller, beta, options, tag)

    def _alias(self, model: str) -> tuple[str | None, str]:
        """A model named ``<controller>/<model>``: the controller and the served model."""
        prefix, _, rest = model.partition("/")
        return (prefix, rest) if rest and prefix in self.registry else (None, model)

    def _staged(self, tag: WorkflowTag, stage: StagePlan, options: TTSOptions) -> TTSPlan:
        """The search a planned stage runs: the plan's model, controller and budget."""
        controller = stage.controller_name or self.settings.default_controller
        if stage.samples is not None:
            options = options.model_copy(update={"max_branches": stage.samples})
        beta = stage.search_beta
        assert beta is not None  # a stage gives a beta or samples
        return TTSPlan(stage.model, controller, beta, options, tag, stage)

    async def _probe_suffix(self, model: str) -> tuple[int, ...]:
        if model not in self._suffix_ids:
            ids = await self.backend.tokenize(
                model, prompt=self.settings.probe_suffix, add_special_tokens=False
            )
            self._suffix_ids[model] = tuple(ids)
        return self._suffix_ids[model]

    async def prompt_ids(
        self,
        plan: TTSPlan,
        request: ChatCompletionRequest | CompletionRequest,
        tools: Sequence[Mapping[str, Any]] = (),
    ) -> list[int]:
        if isinstance(request, ChatCompletionRequest):
            return await self.backend.tokenize(
                plan.model, messages=_prompt_of(request), tools=tools
            )
        prompt = request.prompt
        if isinstance(prompt, str):
            return await self.backend.tokenize(plan.model, prompt=prompt)
        if prompt and all(isinstance(t, int) for t in prompt):
            return [int(t) for t in prompt]  # type: ignore[arg-type]
        raise InvalidRequestError(
            "a TTS completion takes one prompt (a string or a list of token ids)", param="prompt"
        )

    def _explored(self, plan: TTSPlan) -> TTSPlan:
        """The plan, or its exploration (every branch whole, probed every chunk) when the
        request asks for one or the server's ``explore_rate`` draws it."""
        if plan.options.mode == "explore" or (
            self.settings.explore_rate > 0
            and self._explore_draw.random() < self.settings.explore_rate
        ):
            return dataclasses.replace(plan, controller=EXPLORE)
        return plan

    async def prepare(
        self, plan: TTSPlan, request: ChatCompletionRequest | CompletionRequest
    ) -> Prepared:
        """Check and set up a search before any branch runs: what a request can be refused
        for (its controller, parameters, prompt, context) is refused here, as a status code
        even when it asked for a stream. A refusal is counted as an error."""
        started = time.perf_counter()
        label = await self.model_label(plan.model)
        try:
            cls = self.registry.get(plan.controller)
            spec = search_request(request, cls)
            prompt_ids = await self.prompt_ids(plan, request, spec.output.tools)
            context = await self.backend.max_model_len(plan.model)
            limits = self._limits(plan, request, prompt_ids, context)
            sampling = await self._sampling(plan, spec, cls)
        except TTSProxyError:
            self.metrics.requests.labels(plan.controller, label, "error").inc()
            raise
        return Prepared(plan, request, uuid.uuid4().hex, label, started, cls, spec,
                        prompt_ids, limits, sampling)  # fmt: skip

    async def _sampling(
        self, plan: TTSPlan, spec: SearchRequest, cls: type[Controller]
    ) -> Sampling:
        s = self.settings
        confident = plan.options.confidence
        if confident is None:
            confident = s.confidence or cls.wants_confidence
        logprobs = max(spec.logprobs or 0, CONFIDENCE_TOP_K) if confident else spec.logprobs
        return Sampling(
            temperature=spec.temperature, top_p=spec.top_p, seed=spec.seed, stop=spec.stop,
            probe_suffix_ids=await self._probe_suffix(plan.model), probe_tokens=s.probe_tokens,
            extra=spec.extra, logprobs=logprobs,
        )  # fmt: skip

    async def run(self, prepared: Prepared) -> Outcome:
        """Run the search, count it in the metrics and log its trace record."""
        plan, request, request_id, label = (
            prepared.plan,
            prepared.request,
            prepared.request_id,
            prepared.label,
        )
        explore = plan.controller == EXPLORE
        try:
            outcome = await self._search(prepared)
        except TTSProxyError:
            self.metrics.requests.labels(plan.controller, label, "error").inc()
            raise
        except asyncio.CancelledError:
            self.metrics.requests.labels(plan.controller, label, "cancelled").inc()
            raise
        elapsed = time.perf_counter() - prepared.started
        self._observe(plan, label, outcome, elapsed)
        if plan.tag is not None:
            self.plans.observe(plan.tag, label, outcome.usage.total_tokens, outcome.summary.flops)
        if self.traces is not None:
            self.traces.write(
                build_record(
                    request_id=request_id,
                    model=plan.model,
                    prompt=_prompt_of(request),
                    log_prompts=self.settings.log_prompts,
                    controller=plan.controller,
                    beta=plan.beta,
                    mode="explore" if explore else "default",
                    chunk_tokens=outcome.chunk_tokens,
                    probe_suffix=self.settings.probe_suffix,
                    result=outcome.result,
                    usage=outcome.usage.model_dump(),
                    latency_s=elapsed,
                    baseline=outcome.summary.baseline,
                    warnings=outcome.summary.warnings,
                    tag=plan.tag,
                    flops=outcome.summary.flops,
                )
            )
        return outcome

    def _observe(self, plan: TTSPlan, model: str, outcome: Outcome, elapsed: float) -> None:
        m, c, result = self.metrics, plan.controller, outcome.result
        m.requests.labels(c, model, "ok").inc()
        m.tokens.labels(c, model, "branch").inc(result.branch_tokens)
        m.tokens.labels(c, model, "probe").inc(result.probe_tokens)
        m.tokens.labels(c, model, "prompt").inc(outcome.usage.prompt_tokens)
        baseline = outcome.summary.baseline
        m.saved(c, model, result.tokens, baseline.tokens if baseline is not None else None)
        m.branches.labels(c).observe(len(result.branches))
        m.probes.labels(c).observe(result.probes)
        m.pruned.labels(c).observe(result.pruned)
        m.rounds.labels(c).observe(result.rounds)
        m.latency.labels(c).observe(elapsed)
        m.ttfb.labels(c).observe(elapsed)  # the answer's first byte follows the search at once
        if result.answer_probe is not None:
            m.early_answers.labels(c, model).inc()
        if result.stop_reason in CONTROLLER_FAULTS:
            m.controller_faults.labels(c, result.stop_reason).inc()
        if result.inadmissible:
            m.controller_faults.labels(c, "inadmissible_action").inc(result.inadmissible)
        if result.failed:
            m.failed_branches.labels(model).inc(result.failed)
        if outcome.summary.flops is not None:
            m.flops.labels(c, model).inc(outcome.summary.flops)

    def _limits(
        self, plan: TTSPlan, request: ChatCompletionRequest | CompletionRequest,
        prompt_ids: list[int], context: int | None,
    ) -> Limits:  # fmt: skip
        """What the search may spend: width, budget, branch cap and chunk, each capped by the
        server. A branch cap below the chunk shrinks the chunk, so a controller that reads
        branches chunk by chunk still has steps to decide on."""
        s, opts = self.settings, plan.options
        branch_cap = request.branch_max_tokens or s.max_branch_tokens
        if context is not None:
            room = context - len(prompt_ids) - _PROBE_ROOM
            if room <= 0:
                raise InvalidRequestError(
                    f"the prompt ({len(prompt_ids)} tokens) leaves no room in the model's "
                    f"context of {context}",
                    param="messages" if isinstance(request, ChatCompletionRequest) else "prompt",
                )
            branch_cap = min(branch_cap, room)
        width = min(opts.max_branches or s.max_branches, s.max_branches)
        chunk = opts.chunk_tokens or s.chunk_tokens
        if chunk >= branch_cap:
            chunk = max(MIN_CHUNK_TOKENS, -(-branch_cap // MIN_STEPS))
        return Limits(
            max_branches=width,
            budget=min(opts.max_tokens or width * branch_cap, s.max_search_tokens),
            chunk_tokens=min(chunk, branch_cap),
            max_branch_tokens=branch_cap,
        )

    async def _search(self, p: Prepared) -> Outcome:
        s, plan, request_id, limits, spec = self.settings, p.plan, p.request_id, p.limits, p.spec
        prompt_ids, sampling = p.prompt_ids, p.sampling
        controller = p.controller(plan.beta, limits, random.Random(p.request.seed))
        episode = self.backend.episode(plan.model, prompt_ids, sampling, session=request_id)
        seconds = min(plan.options.max_seconds or s.max_search_seconds, s.max_search_seconds)
        reader = TEXT if spec.output.kind == "text" else JSON
        async with self.slots.hold(limits.max_branches):
            deadline = time.monotonic() + seconds
            result = await run_search(controller, episode, limits, record=True,
                                      deadline=deadline, reader=reader,
                                      engine=ENGINES[s.engine])  # fmt: skip
        rendering = Rendering(
            controller=plan.controller, beta=plan.beta, request_id=request_id,
            prompt_tokens=len(prompt_ids), chunk_tokens=limits.chunk_tokens,
            probe_suffix=s.probe_suffix, spec=spec,
            baseline=self.savings.estimate(plan.model, result.branches, result.tokens),
            reference=reference(self.savings_report, plan.controller, plan.beta),
            model=plan.model, flops=self.sizes.flops(plan.model, len(prompt_ids) + result.tokens),
            workflow=plan.workflow(),
            notes=_notes(plan.controller, controller) + _capped(plan.options, s),
        )  # fmt: skip
        return render(result, rendering)


def _notes(name: str, controller: Controller) -> tuple[str, ...]:
    """What the answer's ``tts.warnings`` says about how the controller ran."""
    return tuple(f"{name} was {note}" for note in controller.calibration_notes)


def _capped(options: TTSOptions, s: Settings) -> tuple[str, ...]:
    """What the answer's ``tts.warnings`` says about asks above the server's caps."""
    asks = [
        ("max_branches", options.max_branches, "--max-branches", s.max_branches),
        ("max_tokens", options.max_tokens, "--max-search-tokens", s.max_search_tokens),
        ("max_seconds", options.max_seconds, "--max-search-seconds", s.max_search_seconds),
    ]
    return tuple(
        f"tts.{name} {asked} is above this server's {flag}: capped at {cap}"
        for name, asked, flag, cap in asks
        if asked is not None and asked > cap
    )


def _prompt_of(request: ChatCompletionRequest | CompletionRequest) -> Any:
    if isinstance(request, ChatCompletionRequest):
        return [m.model_dump(exclude_none=True) for m in request.messages]
    return request.prompt


def _forwarded_body(raw: bytes, model: str) -> bytes:
    """The body to forward on passthrough: without the proxy's own ``tts`` block, for the
    model the backend serves."""
    body = json.loads(raw)
    return json.dumps({k: v for k, v in body.items() if k != "tts"} | {"model": model}).encode()
