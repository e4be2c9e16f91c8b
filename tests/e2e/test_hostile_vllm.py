"""Hostile answers written by the real model: a few-shot prompt makes SmolLM2 echo boxes such
as ``\\boxed{2025!}`` or ``\\boxed{10^{10^{6}}}``, and searches over them through the proxy end
in a 200 (or a clean OpenAI error) while ``/healthz`` keeps answering."""

from __future__ import annotations

import concurrent.futures

import httpx
import openai
import pytest

from tests.e2e.conftest import MODEL, ProxyServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
BOXES = ["2025!", "12!!", "9^{9^{9}}", "10^{10^{6}}", "\\frac{1}{2025!}", "(10^{10})!"]
SHOTS = ["\\boxed{7}", "\\boxed{x+1}", "\\boxed{3^{4}}"]


def echo_prompt(box: str) -> str:
    shots = "".join(f"Repeat: {s}\nOutput: {s}\n\n" for s in SHOTS)
    return shots + f"Repeat: \\boxed{{{box}}}\nOutput:"


def search(client: openai.OpenAI, box: str, controller: str) -> str | None:
    try:
        r = client.completions.create(
            model=MODEL, prompt=echo_prompt(box), max_tokens=32, temperature=0.3,
            stop=["\n\n"], extra_body={"tts": {"controller": controller, "beta": 0.5}},
        )  # fmt: skip
    except openai.APIStatusError as exc:
        assert exc.status_code < 500, exc.response.text
        return None
    answer: str | None = (r.model_extra or {})["tts"]["answer"]
    return answer


def test_searches_over_answers_the_model_echoes_end_cleanly(proxy: ProxyServer) -> None:
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key="x", max_retries=0, timeout=600)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        runs = [pool.submit(search, client, b, c) for b in BOXES for c in ("sc", "probe_exit")]
        health = []
        while not all(r.done() for r in runs):
            health.append(httpx.get(f"{proxy.url}/healthz", timeout=30).status_code)
        answers = [r.result() for r in runs]
    assert health and set(health) == {200}
    echoed = [a for a in answers if a and any(mark in a for mark in ("!", "^{"))]
    assert echoed, answers  # the model did write hostile answers, and they were voted on
