"""Turn an OpenAI request into a search: resolve the TTS options, render the prompt, run the
engine on the live backend, and compose the answer."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from tts_proxy.admission import BranchSlots
from tts_proxy.answers import match_braces
from tts_proxy.backends.base import ModelServer, Sampling
from tts_proxy.controllers import ControllerRegistry
from tts_proxy.controllers.base import Limits
from tts_proxy.engine import SearchResult, run_search
from tts_proxy.errors import InvalidRequestError, TTSProxyError
from tts_proxy.metrics import OTHER, Metrics
from tts_proxy.protocol import (
    ChatCompletionRequest,
    CompletionRequest,
    TTSOptions,
    TTSSummary,
    Usage,
)
from tts_proxy.savings import SavingsEstimator
from tts_proxy.settings import Settings
from tts_proxy.traces import LABELS_FILE, LabelStore, TraceWriter, build_record

log = logging.getLogger("tts_proxy")
# Stop reasons that mean the controller misbehaved (the engine stopped it).
CONTROLLER_FAULTS = ("controller_error", "round_limit", "no_progress")

BETA_HEADER = "x-tts-beta"
PASSTHROUGH = "none"
EXPLORE = "explore"
# Room left in the context for the probe suffix and its answer.
_PROBE_ROOM = 48


@dataclass(frozen=True, slots=True)
class TTSPlan:
    """The resolved options of one TTS request."""

    model: str
    controller: str
    beta: float
    options: TTSOptions


@dataclass(frozen=True, slots=True)
class Outcome:
    """A finished search, rendered: the answer text, its usage and the ``tts`` summary."""

    text: str
    finish_reason: str
    usage: Usage
    summary: TTSSummary
    result: SearchResult
    chunk_tokens: int


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
        self.savings = SavingsEstimator()
        self._suffix_ids: dict[str, tuple[int, ...]] = {}
        self._explore_draw = random.Random()
        self._reloading = asyncio.Lock()
        self.slots = BranchSlots(settings.max_concurrent_branches, settings.max_queued_searches)
        self._versions = registry.versions()
        self.metrics.count_controllers(registry)

    async def reload_controllers(self) -> dict[str, Any]:
        """Re-read the controllers directory: each new or changed file gets its verdict
        (data, trusted, sandboxed after the gate, or refused -- logged with the reason)."""
        async with self._reloading:
            await asyncio.to_thread(self.registry.reload)
            self._versions = self.registry.versions()
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

    async def model_label(self, model: str) -> str:
        """The model as a metric label: a model the backend serves, else ``other``."""
        try:
            known = await self.backend.max_model_len(model) is not None
        except TTSProxyError:
            known = False
        return model if known else OTHER

    def plan(self, model: str, tts: TTSOptions | None, headers: dict[str, str]) -> TTSPlan | None:
        """The TTS plan of a request, or None when it is a plain passthrough."""
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
        return TTSPlan(model, controller, beta, options)

    async def _probe_suffix(self, model: str) -> tuple[int, ...]:
        if model not in self._suffix_ids:
            ids = await self.backend.tokenize(
                model, prompt=self.settings.probe_suffix, add_special_tokens=False
            )
            self._suffix_ids[model] = tuple(ids)
        return self._suffix_ids[model]

    async def prompt_ids(
        self, plan: TTSPlan, request: ChatCompletionRequest | CompletionRequest
    ) -> list[int]:
        if isinstance(request, ChatCompletionRequest):
            return await self.backend.tokenize(plan.model, messages=_prompt_of(request))
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
                )
            )
        return outcome

    def _observe(self, plan: TTSPlan, model: str, outcome: Outcome, elapsed: float) -> None:
        m, c, result = self.metrics, plan.controller, outcome.result
        m.requests.labels(c, model, "ok").inc()
        m.tokens.labels(c, model, "branch").inc(result.branch_tokens)
        m.tokens.labels(c, model, "probe").inc(result.probe_tokens)
        m.tokens.labels(c, model, "prompt").inc(outcome.usage.prompt_tokens)
        m.tokens_saved.labels(c, model).inc(outcome.summary.estimated_tokens_saved)
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

    async def _search(
        self, plan: TTSPlan, request: ChatCompletionRequest | CompletionRequest, request_id: str
    ) -> Outcome:
        if request.n not in (None, 1):
            raise InvalidRequestError("n must be 1 when tts is used", param="n")
        s = self.settings
        opts = plan.options
        prompt_ids = await self.prompt_ids(plan, request)
        context = await self.backend.max_model_len(plan.model)
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
        budget = min(opts.max_tokens or width * branch_cap, s.max_search_tokens)
        limits = Limits(
            max_branches=width,
            budget=budget,
            chunk_tokens=min(opts.chunk_tokens or s.chunk_tokens, branch_cap),
            max_branch_tokens=branch_cap,
        )
        stop = [request.stop] if isinstance(request.stop, str) else request.stop
        sampling = Sampling(
            temperature=0.8 if request.temperature is None else request.temperature,
            top_p=request.top_p,
            seed=request.seed,
            stop=stop,
            probe_suffix_ids=await self._probe_suffix(plan.model),
            probe_tokens=s.probe_tokens,
        )
        controller = self.registry.get(plan.controller)(
            plan.beta, limits, random.Random(request.seed)
        )
        episode = self.backend.episode(plan.model, prompt_ids, sampling)
        seconds = min(opts.max_seconds or s.max_search_seconds, s.max_search_seconds)
        async with self.slots.hold(width):
            deadline = time.monotonic() + seconds
            result = await run_search(controller, episode, limits, record=True, deadline=deadline)
        return self._render(plan, request_id, prompt_ids, width, limits.chunk_tokens, result)

    def _render(
        self,
        plan: TTSPlan,
        request_id: str,
        prompt_ids: list[int],
        width: int,
        chunk_tokens: int,
        result: SearchResult,
    ) -> Outcome:
        branch, probe = result.answer_branch, result.answer_probe
        text = branch.text if branch else ""
        finish = (branch.finish_reason or "length") if branch else "stop"
        if probe is not None and branch is not None:
            # An early answer: the branch's text up to now, then the probe that read the answer.
            boxed = match_braces(probe.text)
            answer_text = probe.text if boxed is None else boxed + "}"
            text = branch.text + self.settings.probe_suffix + answer_text
            finish = "stop"
        saved = self.savings.estimate(plan.model, width, result.branches, result.tokens)
        summary = TTSSummary(
            controller=plan.controller,
            beta=plan.beta,
            branches=len(result.branches),
            probes=result.probes,
            pruned=result.pruned,
            rounds=result.rounds,
            answer=result.answer,
            stop_reason=result.stop_reason,
            tokens=result.tokens,
            branch_tokens=result.branch_tokens,
            probe_tokens=result.probe_tokens,
            estimated_tokens_saved=saved,
            request_id=request_id,
            failed_branches=result.failed,
            fault=result.fault,
        )
        usage = Usage(
            prompt_tokens=len(prompt_ids),
            completion_tokens=result.tokens,
            total_tokens=len(prompt_ids) + result.tokens,
        )
        return Outcome(text, finish, usage, summary, result, chunk_tokens)


def _prompt_of(request: ChatCompletionRequest | CompletionRequest) -> Any:
    if isinstance(request, ChatCompletionRequest):
        return [m.model_dump(exclude_none=True) for m in request.messages]
    return request.prompt


def strip_tts(body: dict[str, Any]) -> dict[str, Any]:
    """The body to forward on passthrough: without the proxy's own ``tts`` block."""
    return {k: v for k, v in body.items() if k != "tts"}
