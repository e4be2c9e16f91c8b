"""vLLM killed in the middle of a search: the client gets an OpenAI error at once (no branch
survives), the proxy stays up, and ``/healthz`` says the backend is gone. A vLLM of its own,
so the session's is not harmed; the seconds are printed (run with -s to see them)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator

import httpx
import openai
import psutil
import pytest

from tests.e2e.conftest import LONG, ProxyServer, long_settings, running_vllm, wait_until_busy
from tts_proxy.embedded.server import EmbeddedVLLM

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def doomed() -> Iterator[EmbeddedVLLM]:
    yield from running_vllm()


def test_a_vllm_killed_mid_search_gives_an_openai_error_and_the_proxy_stays_up(
    doomed: EmbeddedVLLM,
) -> None:
    with ProxyServer(long_settings(doomed.url), doomed.url) as proxy:
        client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key="x", max_retries=0, timeout=120)
        outcome: dict[str, BaseException] = {}

        def search() -> None:
            try:
                client.chat.completions.create(
                    model=str(LONG["model"]),
                    messages=LONG["messages"],  # type: ignore[arg-type]
                    extra_body={"tts": LONG["tts"]},
                )
            except BaseException as exc:  # the test inspects whatever came back
                outcome["error"] = exc

        caller = threading.Thread(target=search)
        caller.start()
        wait_until_busy(doomed)
        assert doomed.process is not None  # the watchdog; vLLM's tree is below it
        tree = psutil.Process(doomed.process.pid).children(recursive=True)
        killed = time.monotonic()
        for process in tree:  # as the OOM killer would
            process.send_signal(signal.SIGKILL)
        caller.join(120)
        took = time.monotonic() - killed

        assert not caller.is_alive()
        error = outcome.get("error")
        assert isinstance(error, openai.APIStatusError), error
        assert error.status_code in (502, 503, 504)
        print(f"\n[killed] the client had a {error.status_code} {took:.2f} s after vLLM was killed")
        body = error.response.json()["error"]
        assert body["message"] and body["type"] and "Traceback" not in body["message"]

        health = httpx.get(f"{proxy.url}/healthz", timeout=10)
        assert health.status_code == 503 and health.json()["backend"] == "unavailable"
        # Still serving: a bad request gets its 400 as before.
        bad = httpx.post(f"{proxy.url}/v1/chat/completions", json={"model": 1}, timeout=10)
        assert bad.status_code == 400
