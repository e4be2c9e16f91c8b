"""A stand-in for vLLM over HTTP that writes what it is told to: completions that end in
given answers (hostile ones, for the tests of model output as input).

It speaks the part of vLLM's API the proxy uses: ``/health``, ``/v1/models``, ``/tokenize``
and ``/v1/completions`` with ``return_token_ids``; a greedy request with ``logprobs`` is a
probe and is answered with the next ending and a closing brace, as a probe reads it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request

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

    @app.post("/v1/completions")
    async def completions(request: Request) -> dict[str, Any]:
        body = await request.json()
        ending = next(turn)
        probe = body.get("logprobs") is not None and not body.get("temperature")
        text = f"{ending}}}" if probe else f"Let me think.\nThe answer is \\boxed{{{ending}}}."
        n = max(1, min(int(body.get("max_tokens") or 16), 16))
        choice: dict[str, Any] = {"index": 0, "text": text, "finish_reason": "stop",
                                  "token_ids": [7] * n}  # fmt: skip
        if probe:
            choice["logprobs"] = {"token_logprobs": [-0.1] * n, "tokens": ["x"] * n,
                                  "top_logprobs": None, "text_offset": list(range(n))}  # fmt: skip
        return {
            "id": "cmpl-standin", "object": "text_completion", "created": 0, "model": MODEL,
            "choices": [choice],
            "usage": {"prompt_tokens": 1, "completion_tokens": n, "total_tokens": n + 1},
        }  # fmt: skip

    return app
