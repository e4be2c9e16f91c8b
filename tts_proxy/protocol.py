"""OpenAI-compatible request and response models (pydantic), plus the ``tts`` extension.

Requests allow unknown fields (they are forwarded to vLLM untouched); the ``tts`` block is
strict, so a typo there is an error rather than a silent default.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)

from tts_proxy.beta import Beta
from tts_proxy.savings import Baseline, Reference
from tts_proxy.workflows.tags import TagFields


class TTSOptions(TagFields):
    """Per-request test-time-scaling options (sent by clients through ``extra_body``).
    ``workflow``, ``stage`` and ``run`` tag a stage of a workflow (its plan may choose the
    model, controller and budget)."""

    model_config = ConfigDict(extra="forbid")

    beta: Beta | None = None
    controller: str | None = None
    max_tokens: int | None = Field(None, gt=0, description="total token budget of the search")
    chunk_tokens: int | None = Field(None, gt=0)
    max_branches: int | None = Field(None, gt=0)
    mode: Literal["default", "explore"] = "default"
    max_seconds: float | None = Field(
        None, gt=0, description="wall-time cap of the search (at most the server's)"
    )
    confidence: bool | None = Field(
        None, description="measure branches' token confidence (DeepConf; top-k logprobs)"
    )

    @field_validator("max_seconds")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v


@dataclass(frozen=True, slots=True)
class TTSHeaders:
    """What a request's ``X-TTS-*`` headers ask of the proxy (read by ``api.headers``)."""

    beta: float | None = None
    tag: TagFields | None = None


NO_HEADERS = TTSHeaders()


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class _SamplingRequest(BaseModel):
    """The fields every completion request shares. Parameters the proxy does not read are
    kept (``model_extra``): a passthrough forwards the body as it came, and a search refuses
    what it cannot honour (``search_request``)."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    max_tokens: int | None = Field(None, gt=0)
    temperature: float | None = Field(None, ge=0.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    n: int | None = Field(None, ge=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    user: str | None = None
    response_format: dict[str, Any] | None = None
    top_logprobs: int | None = None
    tts: TTSOptions | None = None


class ChatCompletionRequest(_SamplingRequest):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, gt=0)
    logprobs: bool | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None

    @property
    def branch_max_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class CompletionRequest(_SamplingRequest):
    prompt: str | list[str] | list[int] | list[list[int]]
    logprobs: int | None = None

    @property
    def branch_max_tokens(self) -> int | None:
        return self.max_tokens


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class WorkflowSummary(BaseModel):
    """The workflow stage a request was, and the plan's choice for it (None: no plan)."""

    workflow: str
    stage: str
    run: str | None = None
    plan: str | None = None


class TTSSummary(BaseModel):
    """What the search did, returned with every TTS response (README: "What the numbers
    mean")."""

    controller: str
    beta: float
    branches: int
    probes: int
    pruned: int
    rounds: int
    answer: str | None
    stop_reason: str
    tokens: int
    branch_tokens: int
    probe_tokens: int
    chunk_tokens: int
    estimated_tokens_saved: int  # the baseline's tokens minus these, floored at 0
    baseline: Baseline | None  # the live counterfactual: self-consistency at a stated width
    reference: Reference | None  # what this controller's saving cost on replayed data
    request_id: str
    failed_branches: int = 0  # lost to backend errors: the answer rests on the others
    discarded_tokens: int = 0  # made by aborted streams past their last boundary (in tokens)
    fault: str | None = None  # what the controller did wrong (it was stopped, majority vote)
    warnings: list[str] = Field(default_factory=list)
    votes: dict[str, int] = Field(default_factory=dict)  # finished branches per answer
    model: str | None = None  # the model the search ran on
    flops: float | None = None  # estimated: 2 x parameters x tokens (None: size unknown)
    workflow: WorkflowSummary | None = None


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


class FunctionCall(BaseModel):
    name: str
    arguments: str  # JSON, as OpenAI writes it


class ToolCall(BaseModel):
    id: str = Field(default_factory=lambda: _id("call"))
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None
    tool_calls: list[ToolCall] | None = None


class TopLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int]


class ChatTokenLogprob(TopLogprob):
    top_logprobs: list[TopLogprob]


class ChatLogprobs(BaseModel):
    content: list[ChatTokenLogprob]


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatMessageOut
    finish_reason: str | None
    logprobs: ChatLogprobs | None = None


class ChatCompletionResponse(BaseModel):
    id: str = Field(default_factory=lambda: _id("chatcmpl"))
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[ChatChoice]
    usage: Usage
    tts: TTSSummary


class CompletionLogprobs(BaseModel):
    tokens: list[str]
    token_logprobs: list[float]
    top_logprobs: list[dict[str, float]] | None
    text_offset: list[int]


class CompletionChoice(BaseModel):
    index: int = 0
    text: str
    finish_reason: str | None
    logprobs: CompletionLogprobs | None = None


class CompletionResponse(BaseModel):
    id: str = Field(default_factory=lambda: _id("cmpl"))
    object: Literal["text_completion"] = "text_completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[CompletionChoice]
    usage: Usage
    tts: TTSSummary


class StreamToolCall(ToolCall):
    index: int


class ChatDelta(BaseModel):
    """What a chat chunk adds; written without the parts it does not carry."""

    role: Literal["assistant"] | None = None
    content: str | None = None
    tool_calls: list[StreamToolCall] | None = None

    @model_serializer(mode="wrap")
    def _present(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}


class ChatStreamChoice(BaseModel):
    index: int = 0
    delta: ChatDelta
    finish_reason: str | None = None
    logprobs: ChatLogprobs | None = None


class CompletionStreamChoice(BaseModel):
    index: int = 0
    text: str = ""
    finish_reason: str | None = None
    logprobs: CompletionLogprobs | None = None


class _StreamChunk(BaseModel):
    """One server-sent event of a streamed answer."""

    id: str
    created: int
    model: str
    usage: Usage | None = None  # the last chunk's, when the client asked for it
    tts: TTSSummary | None = None  # the finishing chunk's

    @model_serializer(mode="wrap")
    def _present(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in ("usage", "tts"):
            if data.get(name) is None:
                data.pop(name, None)
        return data


class ChatCompletionChunk(_StreamChunk):
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    choices: list[ChatStreamChoice]


class CompletionChunk(_StreamChunk):
    object: Literal["text_completion"] = "text_completion"
    choices: list[CompletionStreamChoice]


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class FeedbackRequest(BaseModel):
    """A label for a logged request, or for every stage of a workflow run: the true answer,
    or a score."""

    model_config = ConfigDict(extra="forbid")

    request_id: str | None = Field(None, min_length=1)
    run_id: str | None = Field(None, min_length=1, description="labels every stage of a run")
    answer: str | None = Field(None, min_length=1)
    score: float | None = Field(None, strict=True)  # a number: true is not a score

    @field_validator("score")
    @classmethod
    def _finite_score(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("score must be a finite number")
        return v
