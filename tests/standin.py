"""A stand-in for vLLM over HTTP that writes what it is told to: completions that end in
given answers (hostile ones, for the tests of model output as input).

It speaks the part of vLLM's API the proxy uses: ``/health``, ``/v1/models``, ``/tokenize``
and ``/v1/completions`` with ``return_token_ids`` (streamed too, a token per event); a greedy
request with ``logprobs`` is a probe and is answered with the next ending and a closing brace,
as a probe reads it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

MODEL = "standin"


def standin_app(endings: Sequence[str]) -> FastAPI:
    """A vLLM stand-in whose completions end, in turn, in each of ``endings``."""
    app = FastAPI()
    turn = itertools.cycle(endings)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": MODEL, "object": "model", "max_model_len": 8192}]}

    @app.post("/tokenize")
    async def tokenize(request: Request) -> dict[str, Any]:
        body = await request.json()
        text = body.get("prompt") or str(body.get("messages"))
        return {"tokens": [min(ord(c), 50_000) for c in text][:64], "count": min(len(text), 64)}

    @app.post("/v1/completions", response_model=None)
    async def completions(request: Request) -> dict[str, Any] | StreamingResponse:
        body = await request.json()
        ending = next(turn)
        probe = body.get("logprobs") is not None and not body.get("temperature")
        text = f"{ending}}}" if probe else f"Let me think.\nThe answer is \\boxed{{{ending}}}."
        n = max(1, min(int(body.get("max_tokens") or 16), 16))
        choice: dict[str, Any] = {"index": 0, "text": text, "finish_reason": "stop",
                                  "token_ids": [7] * n}  # fmt: skip
        if body.get("stream"):
            return StreamingResponse(_stream(text, n), media_type="text/event-stream")
        if probe:
            choice["logprobs"] = {"token_logprobs": [-0.1] * n, "tokens": ["x"] * n,
                                  "top_logprobs": None, "text_offset": list(range(n))}  # fmt: skip
        return {
            "id": "cmpl-standin", "object": "text_completion", "created": 0, "model": MODEL,
            "choices": [choice],
            "usage": {"prompt_tokens": 1, "completion_tokens": n, "total_tokens": n + 1},
        }  # fmt: skip

    return app


async def _stream(text: str, n: int) -> AsyncIterator[bytes]:
    """``text`` as ``n`` one-token events, the way vLLM streams a completion."""
    cut = max(1, len(text) // n)
    for i in range(n):
        last = i == n - 1
        piece = text[i * cut :] if last else text[i * cut : (i + 1) * cut]
        choice = {"index": 0, "text": piece, "token_ids": [7],
                  "finish_reason": "stop" if last else None}  # fmt: skip
        event = {"id": "cmpl-standin", "object": "text_completion", "created": 0,
                 "model": MODEL, "choices": [choice]}  # fmt: skip
        yield f"data: {json.dumps(event)}\n\n".encode()
    yield b"data: [DONE]\n\n"
