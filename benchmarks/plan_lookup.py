"""What a workflow plan adds per request: the lookup alone (``TTSService.plan`` for a tagged
request against an untagged one that asks for the same search), and whole requests through
the app over a fake model server (a planned stage against the same search asked for in the
body). The plan book holds 100 workflows of 5 stages each. No model is called.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fake model server
from tests.fakes import FakeModelServer, Script
from tts_proxy.api.app import create_app
from tts_proxy.api.headers import read_headers
from tts_proxy.protocol import NO_HEADERS, TTSOptions
from tts_proxy.service import TTSService
from tts_proxy.settings import Settings
from tts_proxy.workflows.plan import WorkflowPlan, write_plan

CHAT = [{"role": "user", "content": "2+2?"}]


def book(directory: Path) -> None:
    for w in range(100):
        stages = {f"s{i}": {"model": "fake", "samples": 3} for i in range(5)}
        plan = WorkflowPlan.model_validate({"workflow": f"w{w}", "stages": stages})
        write_plan(directory / f"w{w}.json", plan)


def lookup(service: TTSService, n: int) -> tuple[float, float]:
    tagged = read_headers({"x-tts-workflow": "w57", "x-tts-stage": "s3"})
    plain = TTSOptions(controller="sc", beta=1.0, max_branches=3)
    times = []
    for headers, tts in ((tagged, None), (NO_HEADERS, plain)):
        start = time.perf_counter()
        for _ in range(n):
            service.plan("fake", tts, headers)
        times.append((time.perf_counter() - start) / n)
    return times[0], times[1]


async def requests(app: object, n: int) -> tuple[float, float]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    planned = {"model": "fake", "messages": CHAT, "tts": {"workflow": "w57", "stage": "s3"}}
    asked = {"model": "fake", "messages": CHAT,
             "tts": {"controller": "sc", "beta": 1.0, "max_branches": 3}}  # fmt: skip
    a: list[float] = []
    b: list[float] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as client:
        for _ in range(50):  # warm up both paths
            await client.post("/v1/chat/completions", json=planned)
            await client.post("/v1/chat/completions", json=asked)
        for _ in range(n):
            for body, out in ((planned, a), (asked, b)):
                start = time.perf_counter()
                r = await client.post("/v1/chat/completions", json=body)
                out.append(time.perf_counter() - start)
                assert r.status_code == 200, r.text
    return statistics.median(a), statistics.median(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lookups", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/plan_lookup.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        plans = Path(tmp)
        book(plans)
        settings = Settings(backend_url="http://fake", chunk_tokens=8, trace_dir=None,
                            savings_file=None, plans_dir=plans)  # fmt: skip
        server = FakeModelServer([Script(1, "4")], keep_episodes=False)
        app = create_app(settings, server)
        service: TTSService = app.state.service
        asyncio.run(service.plans.reload())
        tagged, untagged = lookup(service, args.lookups)
        planned, asked = asyncio.run(requests(app, args.requests))
    result = {
        "plans": 100, "stages_per_plan": 5,
        "lookup_tagged_us": round(tagged * 1e6, 2),
        "lookup_untagged_us": round(untagged * 1e6, 2),
        "lookup_added_us": round((tagged - untagged) * 1e6, 2),
        "request_planned_median_ms": round(planned * 1e3, 3),
        "request_asked_median_ms": round(asked * 1e3, 3),
        "request_added_median_ms": round((planned - asked) * 1e3, 3),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
    }  # fmt: skip
    print(json.dumps(result))
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
