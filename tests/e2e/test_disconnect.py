"""A client that hangs up cancels its search: vLLM's running requests drop to zero and its
generated-token counter stops. The seconds it took are printed (run with -s to see them)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import (
    LONG,
    ProxyServer,
    generation_tokens,
    long_settings,
    running,
    wait_until_busy,
)
from tts_proxy.embedded.server import EmbeddedVLLM

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def long_proxy(vllm: EmbeddedVLLM) -> Iterator[ProxyServer]:
    with ProxyServer(long_settings(vllm.url), vllm.url) as server:
        yield server


def seconds_until_idle(vllm: EmbeddedVLLM, since: float) -> float:
    for _ in range(300):
        if running(vllm) == 0:
            return time.monotonic() - since
        time.sleep(0.05)
    raise AssertionError("vLLM still runs the search's requests 15 s after the client left")


def assert_tokens_stop(vllm: EmbeddedVLLM) -> None:
    before = generation_tokens(vllm)
    time.sleep(1.0)
    assert generation_tokens(vllm) == before


@pytest.mark.parametrize("stream", [False, True])
def test_a_client_that_hangs_up_cancels_every_branch(
    vllm: EmbeddedVLLM, long_proxy: ProxyServer, stream: bool
) -> None:
    url = httpx.URL(long_proxy.url)
    body = json.dumps(LONG | {"stream": stream}).encode()
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {url.host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")  # fmt: skip
    with socket.create_connection((url.host, url.port)) as conn:  # a client we can cut off
        conn.sendall(head.encode() + body)
        wait_until_busy(vllm)
        left = time.monotonic()
    took = seconds_until_idle(vllm, left)
    print(f"\n[disconnect] stream={stream}: vLLM idle {took:.2f} s after the client left")
    assert_tokens_stop(vllm)
