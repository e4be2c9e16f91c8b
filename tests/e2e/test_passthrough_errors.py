"""vLLM's own errors reach the client as vLLM wrote them, through the proxy's passthrough:
the same status and OpenAI error body, streaming or not (an error before the first byte of a
stream is an ordinary JSON response), so the SDK raises its usual typed error, once."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.e2e.conftest import MODEL, ProxyServer
from tts_proxy.embedded.server import EmbeddedVLLM

pytestmark = pytest.mark.e2e
HELLO = [{"role": "user", "content": "Hello"}]
CASES: dict[str, dict[str, Any]] = {
    "unknown model": {"model": "nope", "messages": HELLO},
    "tools without auto tool choice": {
        "model": MODEL, "messages": HELLO, "tool_choice": "auto",
        "tools": [{"type": "function", "function": {
            "name": "add", "parameters": {"type": "object", "properties": {}}}}],
    },
    "a prompt longer than the context": {
        "model": MODEL, "messages": [{"role": "user", "content": "hello " * 5000}],
    },
}  # fmt: skip


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("case", list(CASES))
def test_vllms_error_is_relayed_as_it_is(
    proxy: ProxyServer, vllm: EmbeddedVLLM, case: str, stream: bool
) -> None:
    body = CASES[case] | {"max_tokens": 8, "stream": stream}
    direct = httpx.post(f"{vllm.url}/v1/chat/completions", json=body, timeout=60)
    relayed = httpx.post(f"{proxy.url}/v1/chat/completions", json=body, timeout=60)
    assert 400 <= direct.status_code < 500, direct.text
    assert relayed.status_code == direct.status_code
    assert relayed.json() == direct.json()  # vLLM's OpenAI error body, untouched
    assert relayed.headers["content-type"].startswith("application/json")


def test_the_sdk_raises_its_typed_error_and_does_not_retry(proxy: ProxyServer) -> None:
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key="x", max_retries=2)
    before = _errors(proxy)
    for stream in (False, True):
        with pytest.raises(openai.NotFoundError) as info:
            client.chat.completions.create(model="nope", messages=HELLO, stream=stream)  # type: ignore[arg-type]
        assert "nope" in str(info.value.message)
    assert _errors(proxy) - before == 2  # one call each: a 4xx is not retried


def _errors(proxy: ProxyServer) -> float:
    text = httpx.get(f"{proxy.url}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith('tts_requests_total{controller="none"') and 'outcome="error"' in line
    )
