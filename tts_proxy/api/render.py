"""An outcome in OpenAI's shapes: a chat or text completion, or its stream of chunks."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from tts_proxy.outcome import Outcome
from tts_proxy.protocol import (
    ChatChoice,
    ChatCompletionChunk,
    ChatCompletionResponse,
    ChatDelta,
    ChatLogprobs,
    ChatMessageOut,
    ChatStreamChoice,
    ChatTokenLogprob,
    CompletionChoice,
    CompletionChunk,
    CompletionLogprobs,
    CompletionResponse,
    CompletionStreamChoice,
    StreamToolCall,
    TopLogprob,
)
from tts_proxy.state import TokenLogprob


def _top(token: str, logprob: float) -> TopLogprob:
    return TopLogprob(token=token, logprob=logprob, bytes=list(token.encode("utf-8", "replace")))


def chat_logprobs(records: Sequence[TokenLogprob]) -> ChatLogprobs:
    return ChatLogprobs(content=[
        ChatTokenLogprob(**_top(r.token, r.logprob).model_dump(),
                         top_logprobs=[_top(t, v) for t, v in r.top])
        for r in records
    ])  # fmt: skip


def completion_logprobs(records: Sequence[TokenLogprob]) -> CompletionLogprobs:
    offsets, at = [], 0
    for r in records:
        offsets.append(at)
        at += len(r.token)
    return CompletionLogprobs(
        tokens=[r.token for r in records], token_logprobs=[r.logprob for r in records],
        top_logprobs=[dict(r.top) for r in records], text_offset=offsets,
    )  # fmt: skip


def chat_response(model: str, o: Outcome) -> ChatCompletionResponse:
    message = ChatMessageOut(content=o.text, tool_calls=o.tool_calls)
    logprobs = chat_logprobs(o.logprobs) if o.logprobs is not None else None
    choice = ChatChoice(message=message, finish_reason=o.finish_reason, logprobs=logprobs)
    return ChatCompletionResponse(model=model, choices=[choice], usage=o.usage, tts=o.summary)


def completion_response(model: str, o: Outcome) -> CompletionResponse:
    logprobs = completion_logprobs(o.logprobs) if o.logprobs is not None else None
    choice = CompletionChoice(text=o.text or "", finish_reason=o.finish_reason, logprobs=logprobs)
    return CompletionResponse(model=model, choices=[choice], usage=o.usage, tts=o.summary)


def stream_events(
    model: str, include_usage: bool, chat: bool
) -> Callable[[Outcome], Iterable[ChatCompletionChunk | CompletionChunk]]:
    """Render an outcome as OpenAI stream chunks: the answer, the finish (with ``tts``), usage."""

    def render(o: Outcome) -> Iterable[ChatCompletionChunk | CompletionChunk]:
        base: dict[str, Any] = {"id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}",
                                "created": int(time.time()), "model": model}  # fmt: skip
        if chat:
            yield ChatCompletionChunk(**base, choices=[_chat_answer(o)])
            done = ChatStreamChoice(delta=ChatDelta(), finish_reason=o.finish_reason)
            yield ChatCompletionChunk(**base, choices=[done], tts=o.summary)
            if include_usage:
                yield ChatCompletionChunk(**base, choices=[], usage=o.usage)
            return
        logprobs = completion_logprobs(o.logprobs) if o.logprobs else None
        answer = CompletionStreamChoice(text=o.text or "", finish_reason=None, logprobs=logprobs)
        yield CompletionChunk(**base, choices=[answer])
        finished = CompletionStreamChoice(text="", finish_reason=o.finish_reason)
        yield CompletionChunk(**base, choices=[finished], tts=o.summary)
        if include_usage:
            yield CompletionChunk(**base, choices=[], usage=o.usage)

    return render


def _chat_answer(o: Outcome) -> ChatStreamChoice:
    """The chunk that carries the whole answer (the search is done when streaming starts)."""
    delta = ChatDelta(role="assistant", content=o.text)
    if o.tool_calls:
        delta.tool_calls = [StreamToolCall(index=i, **c.model_dump())
                            for i, c in enumerate(o.tool_calls)]  # fmt: skip
    choice = ChatStreamChoice(delta=delta, finish_reason=None)
    if o.logprobs is not None:
        choice.logprobs = chat_logprobs(o.logprobs)
    return choice
