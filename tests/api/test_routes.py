"""The HTTP surface over a fake model server: shapes, passthrough, streaming and errors."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest

from tests.fakes import FakeModelServer, Script
from tts_proxy.api.app import create_app
from tts_proxy.settings import Settings
from tts_proxy.traces import read_records, trace_files

pytestmark = pytest.mark.anyio
CHAT = [{"role": "user", "content": "2+2?"}]


@pytest.fixture
def server() -> FakeModelServer:
    return FakeModelServer([Script(3, "4", ["4", "4", "4"]), Script(2, "5", ["5", "5"])])


@pytest.fixture
async def client(server: FakeModelServer, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(backend_url="http://fake", keepalive_seconds=0.01, chunk_tokens=8,
                        trace_dir=tmp_path / "traces", savings_file=None)  # fmt: skip
    app = create_app(settings, server)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as c:
        yield c


def assert_openai_error(response: httpx.Response, status: int, param: str | None) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["param"] == param
    assert "Traceback" not in response.text
    message: str = body["error"]["message"]
    return message


async def test_plain_request_is_passed_through_unchanged(
    client: httpx.AsyncClient, server: FakeModelServer
) -> None:
    raw = b'{"temperature": 0.3,  "model": "fake", "messages": [{"role": "user", "content": "x"}]}'
    r = await client.post("/v1/chat/completions", content=raw)
    assert r.status_code == 200 and r.json() == {"passthrough": True}
    assert server.forwarded_bytes == [raw]  # the bytes as they came: not parsed and re-encoded
    assert not server.episodes


async def test_controller_none_is_passthrough_without_the_tts_block(
    client: httpx.AsyncClient, server: FakeModelServer
) -> None:
    body = {"model": "fake", "messages": CHAT, "tts": {"controller": "none"}}
    await client.post("/v1/chat/completions", json=body)
    # A controller alias with controller "none": the served model, not the alias.
    await client.post("/v1/chat/completions", json=body | {"model": "sc/fake"})
    assert server.forwarded == [("/chat/completions", {"model": "fake", "messages": CHAT})] * 2


async def test_tts_chat_returns_answer_usage_and_summary(client: httpx.AsyncClient) -> None:
    body = {"model": "fake", "messages": CHAT, "tts": {"beta": 1.0, "controller": "sc",
            "max_branches": 2}}  # fmt: skip
    r = await client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    data = r.json()
    tts = data["tts"]
    assert tts["controller"] == "sc" and tts["branches"] == 2
    assert data["usage"]["completion_tokens"] == tts["tokens"] == 5 * 8
    assert data["usage"]["prompt_tokens"] == len("2+2?")
    assert tts["answer"] == "4"
    assert "\\boxed{4}" in data["choices"][0]["message"]["content"]
    assert r.headers["x-tts-request-id"] == tts["request_id"]


@pytest.mark.parametrize(
    ("how", "expected_controller"),
    [
        ({"headers": {"X-TTS-Beta": "0.2"}}, "probe_exit"),
        ({"model": "sc/fake"}, "sc"),
    ],
)
async def test_tts_by_header_or_model_alias(
    client: httpx.AsyncClient, how: dict[str, object], expected_controller: str
) -> None:
    body = {"model": how.get("model", "fake"), "messages": CHAT}
    r = await client.post("/v1/chat/completions", json=body, headers=how.get("headers"))  # type: ignore[arg-type]
    assert r.status_code == 200, r.text
    assert r.json()["tts"]["controller"] == expected_controller
    assert r.json()["model"] == body["model"]  # the model the client asked for


async def test_streaming_tts_sends_keepalives_then_chunks(client: httpx.AsyncClient) -> None:
    body = {"model": "fake", "messages": CHAT, "stream": True,
            "stream_options": {"include_usage": True}, "tts": {"controller": "sc"}}  # fmt: skip
    async with client.stream("POST", "/v1/chat/completions", json=body) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = (await r.aread()).decode()
    events = [e for e in raw.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    payloads = [json.loads(e[6:]) for e in events if e.startswith("data: {")]
    text = "".join(p["choices"][0]["delta"].get("content", "") for p in payloads if p["choices"])
    assert "\\boxed{" in text
    assert payloads[-1]["usage"]["completion_tokens"] > 0
    assert any("tts" in p for p in payloads)


async def test_completions_with_tts(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/completions", json={"model": "fake", "prompt": "2+2=", "tts": {"beta": 0.0}}
    )
    assert r.status_code == 200, r.text
    assert r.json()["object"] == "text_completion"
    assert r.json()["choices"][0]["text"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "fake", "messages": CHAT, "tts": {"beta": 1.5}}, "tts.beta"),
        ({"model": "fake", "messages": CHAT, "tts": {"beta": -0.1}}, "tts.beta"),
        ({"model": "fake", "messages": CHAT, "tts": {"controller": "nope"}}, "tts.controller"),
        ({"model": "fake", "messages": CHAT, "max_tokens": 0}, "max_tokens"),
        ({"model": "fake", "messages": CHAT, "tts": {"max_tokens": -5}}, "tts.max_tokens"),
        ({"model": "fake", "messages": CHAT, "tts": {"bogus": 1}}, "tts.bogus"),
        ({"model": "fake", "messages": []}, "messages"),
        ({"messages": CHAT}, "model"),
        ({"model": "fake", "messages": CHAT, "n": 3, "tts": {}}, "n"),
    ],
)
async def test_bad_requests_get_400_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, object], param: str
) -> None:
    r = await client.post("/v1/chat/completions", json=body)
    message = assert_openai_error(r, 400, param)
    assert param.split(".")[-1] in message


async def test_nan_beta_is_rejected(client: httpx.AsyncClient) -> None:
    raw = '{"model": "fake", "messages": [{"role": "user", "content": "x"}], "tts": {"beta": NaN}}'
    r = await client.post("/v1/chat/completions", content=raw)
    assert_openai_error(r, 400, "tts.beta")


async def test_bad_json_and_bad_header(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat/completions", content=b"{not json")
    assert "JSON" in assert_openai_error(r, 400, None)
    r = await client.post("/v1/chat/completions", content=b"[1, 2]")
    assert_openai_error(r, 400, None)
    r = await client.post(
        "/v1/chat/completions", json={"model": "fake", "messages": CHAT},
        headers={"X-TTS-Beta": "lots"},
    )  # fmt: skip
    assert_openai_error(r, 400, "X-TTS-Beta")


@pytest.mark.parametrize("depth", [101, 100_000])  # past the limit; past Python's parser
async def test_json_nested_too_deep_is_a_400_with_or_without_tts(
    client: httpx.AsyncClient, server: FakeModelServer, depth: int
) -> None:
    nested = b"[" * depth + b"]" * depth
    for tts in (b"", b', "tts": {}'):
        raw = b'{"model": "fake", "messages": [{"role": "user", "content": "x"}], "user": '
        r = await client.post("/v1/chat/completions", content=raw + nested + tts + b"}")
        assert "deeper than 100" in assert_openai_error(r, 400, None)
    assert not server.forwarded_bytes and not server.episodes


async def test_json_nested_within_the_limit_is_served(
    client: httpx.AsyncClient, server: FakeModelServer
) -> None:
    nested: dict[str, object] = {"type": "object"}
    for _ in range(45):  # a tool schema 91 levels deep in the body
        nested = {"type": "object", "properties": {"x": nested}}
    body = {"model": "fake", "messages": CHAT, "tools": [{"type": "function",
            "function": {"name": "f", "parameters": nested}}]}  # fmt: skip
    assert (await client.post("/v1/chat/completions", json=body)).status_code == 200
    r = await client.post("/v1/chat/completions", json=body | {"tts": {"controller": "sc"}})
    assert r.status_code == 200, r.text


async def test_a_lone_surrogate_is_a_400_for_a_search_and_passed_through_otherwise(
    client: httpx.AsyncClient, server: FakeModelServer
) -> None:
    raw = b'{"model": "fake", "messages": [{"role": "user", "content": "x\\ud800"}]'
    r = await client.post("/v1/chat/completions", content=raw + b', "tts": {}}')
    assert "surrogate" in assert_openai_error(r, 400, "messages.0.content")
    assert not server.episodes
    r = await client.post("/v1/chat/completions", content=raw + b"}")
    assert r.status_code == 200 and server.forwarded_bytes == [raw + b"}"]  # vLLM's to judge


async def test_unknown_route_is_an_openai_404(client: httpx.AsyncClient) -> None:
    assert_openai_error(await client.get("/v1/nothing"), 404, None)


async def test_models_lists_controller_aliases(client: httpx.AsyncClient) -> None:
    ids = [m["id"] for m in (await client.get("/v1/models")).json()["data"]]
    assert "fake" in ids and "sc/fake" in ids and "probe_exit/fake" in ids


async def test_healthz_reports_the_backend(
    client: httpx.AsyncClient, server: FakeModelServer
) -> None:
    assert (await client.get("/healthz")).json()["backend"] == "ok"
    server.healthy = False
    r = await client.get("/healthz")
    assert r.status_code == 503 and r.json()["backend"] == "unavailable"


async def test_a_search_says_what_it_spent_and_saved_in_its_headers_and_trace(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    body = {"model": "fake", "messages": CHAT, "tts": {"controller": "sc", "beta": 0.0}}
    r = await client.post("/v1/chat/completions", json=body)
    tts = r.json()["tts"]
    assert r.headers["x-tts-controller"] == "sc" and r.headers["x-tts-beta"] == "0"
    assert r.headers["x-tts-tokens"] == str(tts["tokens"])
    assert tts["baseline"]["method"] == "sc@8"  # the server's width: the stated default
    assert r.headers["x-tts-tokens-saved"] == str(tts["baseline"]["tokens_saved"])
    assert tts["baseline"]["tokens"] == 8 * tts["tokens"]  # one sample of the same length
    records: list[dict[str, object]] = []
    for _ in range(100):  # the trace writer is a background thread
        records = list(read_records(trace_files(tmp_path / "traces")))
        if records:
            break
        await anyio.sleep(0.05)
    assert records and records[0]["baseline"] == tts["baseline"]


async def test_a_branch_cap_below_the_chunk_still_leaves_steps_to_decide_on() -> None:
    long = FakeModelServer([Script(40, "4", ["4"] * 40)], chunk_tokens=32)
    settings = Settings(backend_url="http://fake", trace_dir=None, savings_file=None)
    transport = httpx.ASGITransport(app=create_app(settings, long))
    body = {"model": "fake", "messages": CHAT, "max_tokens": 128,
            "tts": {"controller": "probe_exit", "beta": 1.0, "chunk_tokens": 256}}  # fmt: skip
    async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as client:
        tts = (await client.post("/v1/chat/completions", json=body)).json()["tts"]
    assert tts["chunk_tokens"] == 32 and tts["probes"] >= 1  # 128 tokens in 4 steps


async def test_greedy_sampling_over_several_branches_is_warned_about(
    client: httpx.AsyncClient,
) -> None:
    body = {"model": "fake", "messages": CHAT, "temperature": 0,
            "tts": {"controller": "sc", "beta": 1.0, "max_branches": 3}}  # fmt: skip
    tts = (await client.post("/v1/chat/completions", json=body)).json()["tts"]
    assert tts["branches"] == 3 and any("temperature 0" in w for w in tts["warnings"])
    body["temperature"] = 0.7
    tts = (await client.post("/v1/chat/completions", json=body)).json()["tts"]
    assert tts["warnings"] == []


async def test_a_parameter_a_search_cannot_honour_is_a_400_naming_it(
    client: httpx.AsyncClient,
) -> None:
    body = {"model": "fake", "messages": CHAT, "tts": {"controller": "probe_exit"},
            "response_format": {"type": "json_object"}}  # fmt: skip
    message = assert_openai_error(
        await client.post("/v1/chat/completions", json=body), 400, "response_format"
    )
    assert "sc, asc, esc" in message
    echo = {"model": "fake", "messages": CHAT, "tts": {}, "echo": True}
    assert_openai_error(await client.post("/v1/chat/completions", json=echo), 400, "echo")


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/chat/completions", {"messages": CHAT, "n": 2}, "n"),
        ("/v1/chat/completions", {"messages": CHAT, "echo": True}, "echo"),
        ("/v1/chat/completions", {"messages": CHAT, "logprobs": True, "top_logprobs": 30},
         "top_logprobs"),
        ("/v1/completions", {"prompt": ["a", "b"]}, "prompt"),
    ],
)  # fmt: skip
async def test_a_refused_stream_is_a_status_code_not_an_event(
    client: httpx.AsyncClient, path: str, body: dict[str, object], param: str
) -> None:
    # The SDK raises BadRequestError on a 4xx status; an error event mid-stream is only an
    # APIError, after the client has begun reading an answer.
    full = {"model": "fake", "stream": True, "tts": {"controller": "sc"}} | body
    assert_openai_error(await client.post(path, json=full), 400, param)


async def test_a_search_without_a_readable_answer_says_so() -> None:
    mute = FakeModelServer([Script(2, None, [None, None])])
    settings = Settings(
        backend_url="http://fake", chunk_tokens=8, trace_dir=None, savings_file=None
    )
    transport = httpx.ASGITransport(app=create_app(settings, mute))
    body = {"model": "fake", "messages": CHAT, "tts": {"controller": "sc", "beta": 0.0}}
    async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as client:
        tts = (await client.post("/v1/chat/completions", json=body)).json()["tts"]
    assert tts["answer"] is None and any("no branch gave an answer" in w for w in tts["warnings"])


async def test_confidence_asks_the_server_for_top_logprobs(
    client: httpx.AsyncClient, server: FakeModelServer
) -> None:
    """tts.confidence (or a controller that reads it, deepconf) asks for top-5 logprobs of
    every branch token; the client's own logprobs, if any, keep the size it asked for."""
    base = {"model": "fake", "messages": CHAT}
    await client.post("/v1/chat/completions", json=base | {"tts": {"controller": "sc"}})
    await client.post("/v1/chat/completions",
                      json=base | {"tts": {"controller": "sc", "confidence": True}})  # fmt: skip
    await client.post("/v1/chat/completions", json=base | {"tts": {"controller": "deepconf"}})
    quiet = {"controller": "deepconf", "confidence": False}
    off = await client.post("/v1/chat/completions", json=base | {"tts": quiet})
    assert off.status_code == 200
    assert [s.logprobs for s in server.samplings] == [None, 5, 5, None]


async def test_a_calibrated_controller_at_another_width_says_its_counts_were_scaled(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "controllers"
    folder.mkdir()
    doc = {"schema": "tts-controller/1", "name": "wide", "calibrated":
           {"max_branches": 64, "chunk_tokens": 8},
           "controller": {"kind": "family", "family": "sc"}}  # fmt: skip
    (folder / "wide.json").write_text(json.dumps(doc))
    settings = Settings(backend_url="http://fake", chunk_tokens=8, trace_dir=None,
                        savings_file=None, controllers_dir=folder, max_branches=4)  # fmt: skip
    app = create_app(settings, FakeModelServer([Script(2, "4", ["4", "4"])]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as c:
        for name in ("wide", "sc"):  # the document, then the built-in it names
            body = {"model": "fake", "messages": CHAT, "tts": {"controller": name, "beta": 1.0}}
            tts = (await c.post("/v1/chat/completions", json=body)).json()["tts"]
            assert tts["branches"] == 4  # SC@width at beta 1, at the request's width of 4
            noted = any("wide was calibrated at 64 branches" in w for w in tts["warnings"])
            assert noted == (name == "wide")  # a built-in's schedule is its definition


# Quick in the gate's replay (chunks of 100 tokens), stuck once served at chunks of 8.
SLOW = """
from tts_proxy.actions import Answer, Branch
from tts_proxy.controllers.base import Controller


class Slow(Controller):
    name = "slow"

    def decide(self, view):
        if view.branches and self.limits.chunk_tokens == 8:
            while True:
                pass
        return [Branch(2, to_end=True)] if not view.branches else [Answer()]
"""


@pytest.mark.timeout(300)
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_a_sandboxed_decide_past_the_operators_limit_is_a_fault_of_its_search(
    tmp_path: Path,
) -> None:
    (tmp_path / "slow.py").write_text(SLOW)
    settings = Settings(backend_url="http://fake", chunk_tokens=8, trace_dir=None,
                        savings_file=None, controllers_dir=tmp_path,
                        sandboxed_decide_seconds=0.5)  # fmt: skip
    app = create_app(settings, FakeModelServer([Script(2, "4", ["4", "4"])]))  # gates slow.py

    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as c:
            body = {"model": "fake", "messages": CHAT, "tts": {"controller": "slow"}}
            return await c.post("/v1/chat/completions", json=body)

    try:
        r = anyio.run(ask)
    finally:
        app.state.service.registry.close()
    assert r.status_code == 200, r.text
    tts = r.json()["tts"]
    assert "no answer within 0.5 s" in tts["fault"]
    assert tts["answer"] == "4"  # the engine answered by majority of the two that ran
