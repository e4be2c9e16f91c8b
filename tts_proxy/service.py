"""Turn an OpenAI request into a search: resolve the TTS options, render the prompt, run the
engine on the live backend, and compose the answer."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tts_proxy.admission import BranchSlots
from tts_proxy.answers.readers import JSON, TEXT
from tts_proxy.backends.base import ModelServer, Sampling
from tts_proxy.controllers import ControllerRegistry
from tts_proxy.controllers.base import Limits
from tts_proxy.engine import run_search
from tts_proxy.errors import InvalidRequestError, TTSProxyError
from tts_proxy.metrics import OTHER, Metrics
from tts_proxy.outcome import Outcome, Rendering, render
from tts_proxy.protocol import (
    ChatCompletionRequest,
    CompletionRequest,
    TTSOptions,
    WorkflowSummary,
)
from tts_proxy.savings import SavingsEstimator, read_report, reference
from tts_proxy.search_request import search_request
from tts_proxy.settings import Settings
from tts_proxy.traces import LABELS_FILE, LabelStore, TraceWriter, build_record
from tts_proxy.workflows.book import PlanBook
from tts_proxy.workflows.flops import ModelSizes
from tts_proxy.workflows.plan import StagePlan
from tts_proxy.workflows.tags import WorkflowTag, workflow_tag

log = logging.getLogger("tts_proxy")
# Stop reasons that mean the controller misbehaved (the engine stopped it).
CONTROLLER_FAULTS = ("controller_error", "round_limit", "no_progress")

BETA_HEADER = "x-tts-beta"
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


def _parse_beta_header(value: str) -> float:
    try:
        beta = float(value)
    except ValueError:
        raise InvalidRequestError(
            f"X-TTS-Beta must be a number in [0, 1], got {value!r}", param="X-TTS-Beta"
        ) from None
    if not 0.0 <= beta <= 1.0:  # also rejects NaN
        raise InvalidRequestError(
            f"X-TTS-Beta must be in [0, 1], got {value!r}", param="X-TTS-Beta"
        )
    return beta


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
        self.plans = PlanBook(settings.plans_dir)
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

    async def reload_plans(self) -> dict[str, Any]:
        """Re-read the plans directory, each plan checked against the models the backends
        serve and the controllers the registry holds."""
        try:
            models = {str(m.get("id")) for m in await self.backend.models()}
        except TTSProxyError:
            models = set()  # no backend answers: every plan waits (checked again next poll)
        before = [(f.path, f.reason) for f in self.plans.files]
        self.plans.reload(models, self.registry.names())
        if [(f.path, f.reason) for f in self.plans.files] != before:
            for f in self.plans.files:
                if f.plan is not None:
                    log.info("plan %s: %s (%s)", f.plan.workflow, f.plan.describe(), f.path)
                else:
                    log.warning("plan file %s not served: %s", f.path, f.reason)
        served = sum(f.plan is not None for f in self.plans.files)
        self.metrics.plans.labels("served").set(served)
        self.metrics.plans.labels("refused").set(len(self.plans.files) - served)
        return self.plans_listing()

    def plans_listing(self) -> dict[str, Any]:
        return {
            "plans": {w: p.model_dump(by_alias=True, exclude_none=True)
                      for w, p in self.plans.plans.items()},
            "files": [{"path": f.path, "workflow": f.plan.workflow if f.plan else None,
                       "served": f.plan is not None, "reason": f.reason}
                      for f in self.plans.files],
        }  # fmt: skip

    async def watch_plans(self) -> None:
        """Reload when a plan file appears, changes or goes -- and while one is refused (its
        model may come up on a backend)."""
        versions = self.plans.versions()
        while True:
            await asyncio.sleep(self.settings.plans_poll_seconds)
            now = self.plans.versions()
            if now != versions or any(f.plan is None for f in self.plans.files):
                versions = now
                await self.reload_plans()

    async def model_label(self, model: str) -> str:
        """The model as a metric label: a model the backend serves, else ``other``."""
        try:
            known = await self.backend.max_model_len(model) is not None
        except TTSProxyError:
            known = False
        return model if known else OTHER

    def plan(self, model: str, tts: TTSOptions | None, headers: dict[str, str]) -> TTSPlan | None:
        """The TTS plan of a request, or None when it is a plain passthrough. A workflow
        stage with a plan runs the plan's model, controller and budget."""
        tag = workflow_tag(tts, headers)
        if tag is not None:
            stage = self._count_tag(tag)
            if stage is not None:
                return self._staged(tag, stage, tts or TTSOptions())
        controller = None
        prefix, _, rest = model.partition("/")
        if rest and prefix in self.registry:
            controller, model = prefix, rest
        header_beta = headers.get(BETA_HEADER)
        if tts is None and controller is None and header_beta is None:
            return None
        options = tts or TTSOptions()
        controller = options.controller or controller or self.settings.default_controller
        if controller == PASSTHROUGH:
            return None
        self.registry.get(controller)  # unknown names fail here, with the list of known ones
        beta = options.beta
        if beta is None and header_beta is not None:
            beta = _parse_beta_header(header_beta)
        if beta is None:
            beta = self.settings.default_beta
        return TTSPlan(model, controller, beta, options, tag)

    def _count_tag(self, tag: WorkflowTag) -> StagePlan | None:
        """The plan's stage for a tagged request, counted by outcome (labels bounded to the
        workflows and stages that plans name)."""
        has_plan, has_stage = self.plans.knows(tag)
        outcome = "planned" if has_stage else "unplanned_stage" if has_plan else "no_plan"
        workflow = tag.workflow if has_plan else OTHER
        stage = tag.stage if has_stage else OTHER
        self.metrics.workflow_requests.labels(workflow, stage, outcome).inc()
        return self.plans.stage(tag)

    def _staged(self, tag: WorkflowTag, stage: StagePlan, options: TTSOptions) -> TTSPlan:
        controller = stage.controller_name or self.settings.default_controller
        self.registry.get(controller)  # a plan checked on load; the registry may have changed
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

    async def run(
        self, plan: TTSPlan, request: ChatCompletionRequest | CompletionRequest, request_id: str
    ) -> Outcome:
        """Run the search, count it in the metrics and log its trace record."""
        start = time.perf_counter()
        explore = plan.options.mode == "explore" or (
            self.settings.explore_rate > 0
            and self._explore_draw.random() < self.settings.explore_rate
        )
        if explore:
            plan = TTSPlan(plan.model, EXPLORE, plan.beta, plan.options)
        label = await self.model_label(plan.model)
        try:
            outcome = await self._search(plan, request, request_id)
        except TTSProxyError:
            self.metrics.requests.labels(plan.controller, label, "error").inc()
            raise
        except asyncio.CancelledError:
            self.metrics.requests.labels(plan.controller, label, "cancelled").inc()
            raise
        elapsed = time.perf_counter() - start
        self._observe(plan, label, outcome, elapsed)
        if plan.tag is not None:
            self._observe_stage(plan, label, outcome)
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

    def _observe_stage(self, plan: TTSPlan, model: str, outcome: Outcome) -> None:
        assert plan.tag is not None
        has_plan, has_stage = self.plans.knows(plan.tag)
        workflow = plan.tag.workflow if has_plan else OTHER
        stage = plan.tag.stage if has_stage else OTHER
        self.metrics.workflow_tokens.labels(workflow, stage, model).inc(outcome.usage.total_tokens)
        if outcome.summary.flops is not None:
            self.metrics.workflow_flops.labels(workflow, stage, model).inc(outcome.summary.flops)

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

    async def _search(
        self, plan: TTSPlan, request: ChatCompletionRequest | CompletionRequest, request_id: str
    ) -> Outcome:
        s = self.settings
        cls = self.registry.get(plan.controller)
        spec = search_request(request, cls)
        prompt_ids = await self.prompt_ids(plan, request, spec.output.tools)
        context = await self.backend.max_model_len(plan.model)
        limits = self._limits(plan, request, prompt_ids, context)
        sampling = Sampling(
            temperature=spec.temperature, top_p=spec.top_p, seed=spec.seed, stop=spec.stop,
            probe_suffix_ids=await self._probe_suffix(plan.model), probe_tokens=s.probe_tokens,
            extra=spec.extra, logprobs=spec.logprobs,
        )  # fmt: skip
        controller = cls(plan.beta, limits, random.Random(request.seed))
        episode = self.backend.episode(plan.model, prompt_ids, sampling, session=request_id)
        seconds = min(plan.options.max_seconds or s.max_search_seconds, s.max_search_seconds)
        reader = TEXT if spec.output.kind == "text" else JSON
        async with self.slots.hold(limits.max_branches):
            deadline = time.monotonic() + seconds
            result = await run_search(controller, episode, limits, record=True,
                                      deadline=deadline, reader=reader)  # fmt: skip
        rendering = Rendering(
            controller=plan.controller, beta=plan.beta, request_id=request_id,
            prompt_tokens=len(prompt_ids), chunk_tokens=limits.chunk_tokens,
            probe_suffix=s.probe_suffix, spec=spec,
            baseline=self.savings.estimate(plan.model, result.branches, result.tokens),
            reference=reference(self.savings_report, plan.controller, plan.beta),
            model=plan.model, flops=self.sizes.flops(plan.model, len(prompt_ids) + result.tokens),
            workflow=plan.workflow(),
        )  # fmt: skip
        return render(result, rendering)


def _prompt_of(request: ChatCompletionRequest | CompletionRequest) -> Any:
    if isinstance(request, ChatCompletionRequest):
        return [m.model_dump(exclude_none=True) for m in request.messages]
    return request.prompt


def strip_tts(body: dict[str, Any]) -> dict[str, Any]:
    """The body to forward on passthrough: without the proxy's own ``tts`` block."""
    return {k: v for k, v in body.items() if k != "tts"}
