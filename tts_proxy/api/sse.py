"""Server-sent events framing, as OpenAI and vLLM write it."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, TypeVar

from pydantic import BaseModel

from tts_proxy.api.errors import error_body
from tts_proxy.errors import TTSProxyError

KEEPALIVE = b": keep-alive\n\n"
DONE = b"data: [DONE]\n\n"
T = TypeVar("T")
log = logging.getLogger(__name__)


def event(payload: BaseModel | dict[str, Any]) -> bytes:
    """One SSE event."""
    if isinstance(payload, BaseModel):
        payload = payload.model_dump()
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


async def stream_when_done(
    work: Awaitable[T], render: Callable[[T], Iterable[BaseModel]], keepalive: float
) -> AsyncIterator[bytes]:
    """Send SSE comments while ``work`` runs, then its rendered events and ``[DONE]``.

    If the client goes away the generator is closed and the work is cancelled with it.
    """
    task = asyncio.ensure_future(work)
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=keepalive)
            if not task.done():
                yield KEEPALIVE
        try:
            outcome = task.result()
        except Exception as exc:  # headers are sent: the error must travel as an event
            err = exc if isinstance(exc, TTSProxyError) else TTSProxyError("internal error")
            if not isinstance(exc, TTSProxyError):
                log.exception("unexpected error in a streamed search")
            yield event(error_body(err))
            yield DONE
            return
        for payload in render(outcome):
            yield event(payload)
        yield DONE
    finally:
        if not task.done():
            task.cancel()
