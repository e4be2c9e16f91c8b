"""`tts-proxy serve` with its embedded vLLM, stopped as users and machines stop it: SIGTERM
(kill, docker, systemd) and SIGINT (Ctrl-C) drain the request in flight, flush its trace and
stop vLLM; SIGKILL (the OOM killer, a crashed parent) still takes vLLM's whole tree with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from tests.e2e.conftest import MODEL
from tts_proxy.embedded.server import free_port, wait_until_healthy
from tts_proxy.traces import read_records, trace_files

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
GONE_WITHIN_SECONDS = 15


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    url: str
    tree: list[psutil.Process]
    traces: Path


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    traces = tmp_path / "traces"
    command = [sys.executable, "-m", "tts_proxy", "serve", "--port", str(port),
               "--trace-dir", str(traces)]  # fmt: skip
    with (tmp_path / "serve.log").open("wb") as log:
        process = subprocess.Popen(command, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while process.poll() is None and time.monotonic() < deadline:
            try:
                wait_until_healthy(f"{url}/healthz", timeout=5)
                break
            except TimeoutError:
                continue
        assert process.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
        tree = psutil.Process(process.pid).children(recursive=True)
        assert any("EngineCore" in p.name() for p in tree), [p.name() for p in tree]
        yield Served(process, url, tree, traces)
    finally:
        if process.poll() is None:
            process.kill()
        psutil.wait_procs(psutil.Process().children(recursive=True), timeout=GONE_WITHIN_SECONDS)


def assert_tree_gone(served: Served) -> None:
    _, alive = psutil.wait_procs(served.tree, timeout=GONE_WITHIN_SECONDS)
    assert not alive, [(p.pid, p.name()) for p in alive]


def in_flight(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    line = next(line for line in text.splitlines() if line.startswith("tts_requests_in_flight "))
    return float(line.split()[1])


def test_sigkill_takes_the_embedded_vllm_with_it(served: Served) -> None:
    os.kill(served.process.pid, signal.SIGKILL)
    assert_tree_gone(served)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stop_signal_drains_the_request_flushes_its_trace_and_stops_vllm(
    served: Served, signum: int, code: int
) -> None:
    body = {"model": MODEL, "max_tokens": 200,
            "messages": [{"role": "user", "content": "Count from 1 to 1000."}],
            "tts": {"controller": "sc", "beta": 0.0}}  # fmt: skip
    answered: list[httpx.Response] = []
    request = threading.Thread(
        target=lambda: answered.append(
            httpx.post(f"{served.url}/v1/chat/completions", json=body, timeout=120)
        )
    )
    request.start()
    deadline = time.monotonic() + 60
    while in_flight(served.url) < 2 and time.monotonic() < deadline:  # the request + /metrics
        time.sleep(0.05)
    served.process.send_signal(signum)
    request.join(120)
    assert answered and answered[0].status_code == 200, answered
    assert served.process.wait(60) == code
    assert_tree_gone(served)
    request_id = answered[0].headers["x-tts-request-id"]
    assert request_id in {r["request_id"] for r in read_records(trace_files(served.traces))}
