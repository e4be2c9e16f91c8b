"""Load: 200 concurrent TTS requests for 60 s against a fast fake backend.

The proxy runs in its own process (uvicorn, as deployed) over the in-process fake model server
of the unit tests, which answers every chunk and probe at once: what is measured is the
proxy's own cost. The driver keeps 200 requests in flight for the duration and reports
requests per second, errors, the proxy's RSS after warm-up and at the end, and the time the
proxy spends per controller round (request latency / rounds: the backend adds nothing) --
under that load, where it is mostly waiting for the event loop, and for one request at a time
before it, which is the proxy's own cost per round.

    python benchmarks/load.py [--concurrency 200] [--seconds 60]
Writes benchmarks/results/load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tts_proxy.embedded.server import wait_until_healthy

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BODY = {
    "model": "fake",
    "messages": [{"role": "user", "content": "What is 2 + 2?"}],
    "tts": {"controller": "probe_exit", "beta": 0.5},
}


def serve(port: int) -> None:
    """The proxy over the fake backend (child process)."""
    import uvicorn

    sys.path.insert(0, str(ROOT))
    from tests.fakes import FakeModelServer, Script
    from tts_proxy.api.app import create_app
    from tts_proxy.settings import Settings

    scripts = [Script(8, "4", ["3", "4", "4", "4", "4", "4", "4"])]
    settings = Settings(backend_url="http://fake", trace_dir=None, savings_file=None,
                        chunk_tokens=64, max_concurrent_branches=10_000,
                        max_queued_searches=10_000)  # fmt: skip
    server = FakeModelServer(scripts, chunk_tokens=64, keep_episodes=False)  # a chunk a round
    uvicorn.run(create_app(settings, server), host="127.0.0.1", port=port,
                log_level="warning", backlog=4096)  # fmt: skip


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def sample_rss(pid: int, every: float, samples: list[float]) -> None:
    while True:
        samples.append(round(rss_mib(pid), 1))
        await asyncio.sleep(every)


async def drive(
    url: str, concurrency: int, seconds: float, pid: int | None = None
) -> dict[str, object]:
    latencies: list[float] = []
    per_round: list[float] = []
    errors: dict[str, int] = {}
    stop = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def worker() -> None:
            while time.monotonic() < stop:
                start = time.perf_counter()
                try:
                    r = await client.post("/v1/chat/completions", json=BODY)
                    elapsed = time.perf_counter() - start
                    if r.status_code != 200:
                        errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
                        continue
                    rounds = max(1, int(r.json()["tts"]["rounds"]))
                except httpx.HTTPError as exc:
                    what = f"{type(exc).__name__}: {exc}"
                    errors[what] = errors.get(what, 0) + 1
                    continue
                latencies.append(elapsed)
                per_round.append(elapsed / rounds)

        rss: list[float] = []
        sampler = asyncio.create_task(sample_rss(pid, 5, rss)) if pid else None
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        if sampler is not None:
            sampler.cancel()
    q = statistics.quantiles
    return {
        "requests": len(latencies),
        "errors": errors,
        "requests_per_second": round(len(latencies) / seconds, 1),
        "latency_ms": {
            "p50": round(q(latencies, n=100)[49] * 1000, 2),
            "p99": round(q(latencies, n=100)[98] * 1000, 2),
        },
        "per_round_ms": {
            "p50": round(q(per_round, n=100)[49] * 1000, 3),
            "p99": round(q(per_round, n=100)[98] * 1000, 3),
        },
        **({"proxy_rss_mib_every_5s": rss} if pid else {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--unloaded-seconds", type=float, default=10)
    parser.add_argument("--port", type=int, default=8631)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.port)
        return
    child = subprocess.Popen([sys.executable, __file__, "--serve", "--port", str(args.port)])
    url = f"http://127.0.0.1:{args.port}"
    try:
        wait_until_healthy(f"{url}/healthz")
        asyncio.run(drive(url, args.concurrency, args.warmup))
        unloaded = asyncio.run(drive(url, 1, args.unloaded_seconds))
        before = rss_mib(child.pid)
        result = asyncio.run(drive(url, args.concurrency, args.seconds, child.pid))
        after = rss_mib(child.pid)
    finally:
        child.terminate()
        child.wait(10)
    report = {
        "machine": f"{os.cpu_count()} CPUs; proxy, driver and fake backend on the same machine",
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "controller": "probe_exit, beta 0.5 (one branch, a chunk and a probe per round)",
        **result,
        "one_at_a_time": {k: unloaded[k] for k in ("requests_per_second", "per_round_ms")},
        "proxy_rss_mib": {"after_warmup": round(before, 1), "at_end": round(after, 1)},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "load.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
