"""Hostile model output through the whole proxy over HTTP: a stand-in vLLM whose every
completion and probe ends in answers such as ``2025!``, ``12!!`` or ``9^{9^{9}}``. Every search
ends in a 200 (or a clean OpenAI error), ``/healthz`` answers while they run, and every search
is logged."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.answers.corpus import HOSTILE
from tests.servers import ProxyServer, ServedApp
from tests.standin import MODEL, standin_app
from tts_proxy.settings import Settings
from tts_proxy.traces import read_records, trace_files

pytestmark = pytest.mark.timeout(600)
CONTROLLERS = ["sc", "cmc", "probe_exit", "parallel_probe", "esc", "asc"]


@pytest.fixture(scope="module")
def standin() -> Iterator[ServedApp]:
    with ServedApp(standin_app(HOSTILE)) as server:
        yield server


def search(url: str, controller: str, stream: bool) -> str:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0, timeout=300)
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "What is 2025!?"}]
    tts = {"tts": {"controller": controller, "beta": 0.5}}
    try:
        if stream:
            chunks = client.chat.completions.create(
                model=MODEL,
                messages=messages,
                extra_body=tts,
                stream=True,
            )
            return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        r = client.chat.completions.create(model=MODEL, messages=messages, extra_body=tts)
        return r.choices[0].message.content or ""
    except openai.APIStatusError as exc:  # clean errors are allowed; a 5xx from the proxy is not
        assert exc.status_code < 500, exc.response.text
        return ""


def test_searches_over_hostile_answers_end_cleanly_while_healthz_answers(
    standin: ServedApp, tmp_path: Path
) -> None:
    settings = Settings(backend_url=standin.url, trace_dir=tmp_path, savings_file=None,
                        chunk_tokens=16, max_branch_tokens=64)  # fmt: skip
    with (
        ProxyServer(settings, standin.url) as proxy,
        concurrent.futures.ThreadPoolExecutor(8) as pool,
    ):
        runs = [pool.submit(search, proxy.url, c, s) for c in CONTROLLERS for s in (False, True)]
        health = []
        while not all(r.done() for r in runs):
            health.append(httpx.get(f"{proxy.url}/healthz", timeout=10).status_code)
        texts = [r.result() for r in runs]
        metrics = httpx.get(f"{proxy.url}/metrics", timeout=10).text
    assert health and set(health) == {200}
    assert any("\\boxed{" in t for t in texts)
    assert "tts_event_loop_lag_seconds_count" in metrics
    assert 'tts_requests_total{controller="sc",model="standin",outcome="ok"} 2.0' in metrics
    assert len(list(read_records(trace_files(tmp_path)))) == len(runs)
