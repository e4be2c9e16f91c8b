"""The proxy in front of a real vLLM, driven by the official openai client."""

from __future__ import annotations

import time

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.e2e.conftest import MODEL, ProxyServer, e2e_settings, generation_tokens
from tts_proxy.embedded.server import EmbeddedVLLM, free_port

pytestmark = pytest.mark.e2e
QUESTION: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "What is 3 + 4? Put the final answer in \\boxed{}."}
]


def settled_generation_tokens(vllm: EmbeddedVLLM, before: float, expected: float) -> float:
    """vLLM updates its counters as requests finish; wait briefly for them to settle."""
    deadline = time.monotonic() + 5
    delta = generation_tokens(vllm) - before
    while delta != expected and time.monotonic() < deadline:
        time.sleep(0.1)
        delta = generation_tokens(vllm) - before
    return delta


def test_passthrough_chat_matches_vllm_directly(client: openai.OpenAI, vllm: EmbeddedVLLM) -> None:
    kwargs = {"model": MODEL, "messages": QUESTION, "max_tokens": 24, "temperature": 0.0}
    via_proxy = client.chat.completions.create(**kwargs)  # type: ignore[call-overload]
    direct = openai.OpenAI(base_url=f"{vllm.url}/v1", api_key="x").chat.completions.create(
        **kwargs  # type: ignore[call-overload]
    )
    assert via_proxy.choices[0].message.content == direct.choices[0].message.content
    assert via_proxy.usage == direct.usage
    assert not (via_proxy.model_extra or {}).get("tts")


def test_passthrough_streaming(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL, messages=QUESTION, max_tokens=16, temperature=0.0, stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def run_tts(client: openai.OpenAI, beta: float, **tts: object) -> openai.types.chat.ChatCompletion:
    return client.chat.completions.create(
        model=MODEL, messages=QUESTION, seed=7,
        extra_body={"tts": {"beta": beta, **tts}},
    )  # fmt: skip


def test_tts_beta_one_spends_more_and_usage_is_what_vllm_generated(
    client: openai.OpenAI, vllm: EmbeddedVLLM
) -> None:
    spent = {}
    for beta in (0.0, 1.0):
        before = generation_tokens(vllm)
        response = run_tts(client, beta, controller="sc", max_branches=4)
        tts = response.model_extra["tts"]  # type: ignore[index]
        usage = response.usage
        assert usage is not None
        assert usage.completion_tokens == tts["tokens"] > 0
        assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
        assert settled_generation_tokens(vllm, before, usage.completion_tokens) == (
            usage.completion_tokens
        )
        assert tts["branches"] == (1 if beta == 0 else 4)
        spent[beta] = usage.completion_tokens
    assert spent[1.0] > spent[0.0]


def test_probe_exit_answers_with_a_summary(client: openai.OpenAI) -> None:
    response = run_tts(client, 0.5, controller="probe_exit")
    tts = response.model_extra["tts"]  # type: ignore[index]
    assert response.choices[0].message.content
    assert tts["controller"] == "probe_exit" and tts["probes"] >= 1 and tts["rounds"] >= 1
    assert tts["probe_tokens"] > 0
    assert response.usage is not None
    assert response.usage.completion_tokens == tts["branch_tokens"] + tts["probe_tokens"]


def test_streaming_tts(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL, messages=QUESTION, stream=True,
        stream_options={"include_usage": True}, extra_body={"tts": {"beta": 0.3}},
    )  # fmt: skip
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert any((c.model_extra or {}).get("tts") for c in chunks)


def test_completions_with_tts_and_passthrough(client: openai.OpenAI) -> None:
    plain = client.completions.create(model=MODEL, prompt="1, 2, 3,", max_tokens=8)
    assert plain.choices[0].text
    tts = client.completions.create(
        model=MODEL, prompt="Q: What is 2 + 2?\nA:", max_tokens=64,
        extra_body={"tts": {"beta": 1.0, "controller": "sc", "max_branches": 2}},
    )  # fmt: skip
    assert tts.model_extra["tts"]["branches"] == 2  # type: ignore[index]
    assert tts.usage is not None and tts.usage.completion_tokens > 0


def test_models_and_health(client: openai.OpenAI, proxy: ProxyServer) -> None:
    ids = {m.id for m in client.models.list()}
    assert {MODEL, f"sc/{MODEL}", f"probe_exit/{MODEL}"} <= ids
    assert httpx.get(f"{proxy.url}/healthz").json() == {"status": "ok", "backend": "ok"}


@pytest.mark.parametrize(
    ("tts", "extra", "param"),
    [
        ({"beta": 1.5}, {}, "tts.beta"),
        ({"controller": "no-such-controller"}, {}, "tts.controller"),
        ({"beta": 0.5}, {"max_tokens": 0}, "max_tokens"),
    ],
)
def test_bad_requests_are_openai_400s(
    client: openai.OpenAI, tts: dict[str, object], extra: dict[str, object], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model=MODEL,
            messages=QUESTION,
            extra_body={"tts": tts, **extra},
        )
    body = info.value.body
    assert (
        isinstance(body, dict)
        and body["param"] == param
        and body["type"] == "invalid_request_error"
    )


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        (b'{"model": ', None),
        (b'{"model": "m", "messages": [], "user": ' + b"[" * 5000 + b"]" * 5000 + b"}", None),
        (
            f'{{"model": "{MODEL}", "messages": [{{"role": "user", "content": "2+2\\ud800"}}], '
            '"tts": {"beta": 0}}'.encode(),
            "messages.0.content",
        ),
    ],
    ids=["cut-short", "nested-too-deep", "lone-surrogate"],
)
def test_a_body_the_proxy_cannot_read_or_resend_is_a_400(
    proxy: ProxyServer, raw: bytes, param: str | None
) -> None:
    r = httpx.post(f"{proxy.url}/v1/chat/completions", content=raw,
                   headers={"content-type": "application/json"})  # fmt: skip
    assert r.status_code == 400, r.text
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert r.json()["error"]["param"] == param


def test_unreachable_backend_is_a_503() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with ProxyServer(e2e_settings(dead), dead) as proxy:
        client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key="x", max_retries=0)
        with pytest.raises(openai.APIStatusError) as info:
            client.chat.completions.create(
                model=MODEL,
                messages=QUESTION,
                extra_body={"tts": {"beta": 0.5}},
            )
        assert info.value.status_code == 503
        with pytest.raises(openai.APIStatusError) as info:
            client.chat.completions.create(model=MODEL, messages=QUESTION)
        assert info.value.status_code == 503
        assert httpx.get(f"{proxy.url}/healthz").status_code == 503
