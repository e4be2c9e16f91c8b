"""A finished search, rendered for the client: what the chosen branch says (text, a JSON
document, or a tool call), its token log-probabilities, the usage and the ``tts`` summary."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tts_proxy.answers import match_braces
from tts_proxy.engine import SearchResult
from tts_proxy.protocol import FunctionCall, ToolCall, TTSSummary, Usage, WorkflowSummary
from tts_proxy.savings import Baseline, Reference
from tts_proxy.search_request import SearchRequest
from tts_proxy.state import TokenLogprob

GREEDY_WIDTH = (
    "temperature 0 makes every branch the same: {n} branches bought nothing more than one; "
    "sample with temperature > 0 to let the search vote"
)
NO_ANSWER = {
    "text": "no branch gave an answer the proxy could read (a \\boxed{} or a final-answer "
    "phrase): the text is the longest branch's, and nothing was voted on",
    "json": "no branch finished a JSON document (a larger max_tokens may let them): the text "
    "is the longest branch's, and nothing was voted on",
}
NO_ANSWER["tool_call"] = NO_ANSWER["json"]
EARLY_LOGPROBS = (
    "logprobs cover the branch's own tokens; the probe that read its answer early is not among them"
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A finished search, rendered: what to answer, its usage and the ``tts`` summary."""

    text: str | None
    finish_reason: str
    usage: Usage
    summary: TTSSummary
    result: SearchResult
    chunk_tokens: int
    tool_calls: list[ToolCall] | None = None
    logprobs: list[TokenLogprob] | None = None

    def headers(self) -> dict[str, str]:
        """The per-request figures, as response headers (for clients that drop unknown
        body fields, such as LangChain's ``include_response_headers``)."""
        s = self.summary
        out = {"x-tts-controller": s.controller, "x-tts-beta": f"{s.beta:g}",
               "x-tts-tokens": str(s.tokens)}  # fmt: skip
        if s.baseline is not None:
            out |= {"x-tts-baseline": s.baseline.method,
                    "x-tts-tokens-saved": str(s.baseline.tokens_saved)}  # fmt: skip
        if s.model is not None:  # a client's model name: headers carry Latin-1 only
            out["x-tts-model"] = quote(s.model, safe="/:@._-+")
        if s.flops is not None:
            out["x-tts-flops"] = f"{s.flops:.4g}"
        if s.workflow is not None:
            out |= {"x-tts-workflow": s.workflow.workflow, "x-tts-stage": s.workflow.stage,
                    "x-tts-planned": "true" if s.workflow.plan else "false"}  # fmt: skip
        return out


@dataclass(frozen=True, slots=True)
class Rendering:
    """What ``render`` needs beside the search's result."""

    controller: str
    beta: float
    request_id: str
    prompt_tokens: int
    chunk_tokens: int
    probe_suffix: str
    spec: SearchRequest
    baseline: Baseline | None
    reference: Reference | None
    model: str | None = None
    flops: float | None = None
    workflow: WorkflowSummary | None = None
    notes: tuple[str, ...] = ()  # about how the controller ran (a calibrated one rescaled)


def _text_of(result: SearchResult, probe_suffix: str) -> tuple[str, str]:
    """The chosen branch's text and finish reason; an early answer adds the probe's reading."""
    branch, probe = result.answer_branch, result.answer_probe
    if branch is None:
        return "", "stop"
    if probe is None:
        return branch.text, branch.finish_reason or "length"
    boxed = match_braces(probe.text)
    return branch.text + probe_suffix + (probe.text if boxed is None else boxed + "}"), "stop"


def _tool_call(document: str | None) -> tuple[str | None, list[ToolCall] | None]:
    """A tool-call branch's document as the message's content or its tool call."""
    try:
        value: Any = json.loads(document) if document else None
    except ValueError:  # an answer a controller chose itself, not the branches' JSON
        value = None
    if isinstance(value, dict) and "name" in value:
        arguments = json.dumps(value.get("arguments", {}), ensure_ascii=False)
        return None, [ToolCall(function=FunctionCall(name=str(value["name"]), arguments=arguments))]
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"], None
    return document or "", None


def _votes(result: SearchResult) -> dict[str, int]:
    """Finished branches per answer (equal answers counted together, under their first
    text), most voted first."""
    texts: dict[str, str] = {}
    counts: dict[str, int] = {}
    for b in result.branches:
        if b.finished and b.key is not None and b.answer is not None:
            texts.setdefault(b.key, b.answer)
            counts[b.key] = counts.get(b.key, 0) + 1
    out: dict[str, int] = {}
    for key in sorted(counts, key=lambda k: -counts[k]):
        out[texts[key]] = out.get(texts[key], 0) + counts[key]
    return out


def render(result: SearchResult, r: Rendering) -> Outcome:
    """The client's answer to a search."""
    warnings = list(r.notes)
    if result.answer is None:
        warnings.append(NO_ANSWER[r.spec.output.kind])
    if r.spec.temperature == 0 and len(result.branches) > 1:
        warnings.append(GREEDY_WIDTH.format(n=len(result.branches)))
    text: str | None
    text, finish = _text_of(result, r.probe_suffix)
    tool_calls = None
    if r.spec.output.kind == "tool_call":
        text, tool_calls = _tool_call(result.answer)
        finish = "tool_calls" if tool_calls else finish
    logprobs = None
    if r.spec.logprobs is not None:
        top = r.spec.logprobs  # the search may have asked for more (token confidence)
        recorded = result.answer_branch.logprobs if result.answer_branch else []
        logprobs = [lp if len(lp.top) <= top else dataclasses.replace(lp, top=lp.top[:top])
                    for lp in recorded]  # fmt: skip
        if result.answer_probe is not None:
            warnings.append(EARLY_LOGPROBS)
    saved = max(0, r.baseline.tokens_saved) if r.baseline is not None else 0
    summary = TTSSummary(
        controller=r.controller, beta=r.beta, branches=len(result.branches),
        probes=result.probes, pruned=result.pruned, rounds=result.rounds,
        answer=result.answer, stop_reason=result.stop_reason, tokens=result.tokens,
        branch_tokens=result.branch_tokens, probe_tokens=result.probe_tokens,
        chunk_tokens=r.chunk_tokens, estimated_tokens_saved=saved, baseline=r.baseline,
        reference=r.reference, request_id=r.request_id, failed_branches=result.failed,
        discarded_tokens=result.discarded_tokens,
        fault=result.fault, warnings=warnings, votes=_votes(result), model=r.model, flops=r.flops,
        workflow=r.workflow,
    )  # fmt: skip
    usage = Usage(prompt_tokens=r.prompt_tokens, completion_tokens=result.tokens,
                  total_tokens=r.prompt_tokens + result.tokens)  # fmt: skip
    return Outcome(text, finish, usage, summary, result, r.chunk_tokens, tool_calls, logprobs)
