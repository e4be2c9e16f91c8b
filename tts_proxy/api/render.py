"""An outcome in OpenAI's shapes: a chat or text completion, or its stream of chunks."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from tts_proxy.outcome import Outcome
from tts_proxy.protocol import (
    ChatChoice,
    ChatCompletionResponse,
    ChatLogprobs,
    ChatMessageOut,
    ChatTokenLogprob,
    CompletionChoice,
    CompletionLogprobs,
    CompletionResponse,
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
) -> Callable[[Outcome], Iterable[dict[str, Any]]]:
    """Render an outcome as OpenAI stream chunks: the answer, the finish (with ``tts``), usage."""

    def first(o: Outcome) -> dict[str, Any]:
        if not chat:
            logprobs = completion_logprobs(o.logprobs).model_dump() if o.logprobs else None
            return {"index": 0, "text": o.text or "", "finish_reason": None, "logprobs": logprobs}
        delta: dict[str, Any] = {"role": "assistant", "content": o.text}
        if o.tool_calls:
            delta["tool_calls"] = [
                {"index": i} | c.model_dump() for i, c in enumerate(o.tool_calls)
            ]
        choice = {"index": 0, "delta": delta, "finish_reason": None}
        if o.logprobs is not None:
            choice["logprobs"] = chat_logprobs(o.logprobs).model_dump()
        return choice

    def finish(o: Outcome) -> dict[str, Any]:
        if chat:  # the finishing chunk carries nothing but the reason
            return {"index": 0, "delta": {}, "finish_reason": o.finish_reason}
        return {"index": 0, "text": "", "finish_reason": o.finish_reason}

    def render(o: Outcome) -> Iterable[dict[str, Any]]:
        base = {
            "id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}",
            "object": "chat.completion.chunk" if chat else "text_completion",
            "created": int(time.time()),
            "model": model,
        }
        yield base | {"choices": [first(o)]}
        yield base | {"choices": [finish(o)], "tts": o.summary.model_dump()}
        if include_usage:
            yield base | {"choices": [], "usage": o.usage.model_dump()}

    return render
