"""Holding up at the HTTP surface: keys, body limit, overload, faulty controllers and
branches, and a list of nasty inputs -- every refusal an OpenAI 4xx, never a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tests.fakes import FakeEpisode, FakeModelServer, Script
from tts_proxy.api.app import create_app
from tts_proxy.backends.base import Sampling
from tts_proxy.controllers.trust import digest
from tts_proxy.settings import Settings

pytestmark = pytest.mark.anyio
CHAT = [{"role": "user", "content": "2+2?"}]
TTS = {"model": "fake", "messages": CHAT, "tts": {"beta": 0.5, "controller": "sc"}}


class FailingServer(FakeModelServer):
    """Serves episodes whose listed branches fail at the backend."""

    def __init__(self, failing: set[int]) -> None:
        super().__init__([Script(2, "4")])
        self.failing = failing

    def episode(
        self, model: str, prompt_ids: list[int], sampling: Sampling, session: str = ""
    ) -> FakeEpisode:
        return FakeEpisode(self.scripts, chunk_tokens=8, failing=self.failing)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(backend_url="http://fake", chunk_tokens=8, trace_dir=None, savings_file=None,
                    max_body_bytes=64_000, controllers_dir=tmp_path / "controllers",
                    controllers_poll_seconds=0)  # fmt: skip


async def open_client(settings: Settings, server: FakeModelServer) -> httpx.AsyncClient:
    settings.controllers_dir.mkdir(exist_ok=True)  # type: ignore[union-attr]
    app = create_app(settings, server)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://proxy")


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with await open_client(settings, FakeModelServer([Script(2, "4", ["4", "4"])])) as c:
        yield c


def assert_openai_4xx(response: httpx.Response) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    body = response.json()
    assert set(body) == {"error"} and body["error"]["message"]
    assert "Traceback" not in response.text
    error: dict[str, Any] = body["error"]
    return error


async def test_keys_are_required_when_configured_and_healthz_stays_open(
    settings: Settings, tmp_path: Path
) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("# team keys\nsecond-key\n")
    settings = settings.model_copy(update={
        "api_keys": [SecretStr("first-key")], "api_keys_file": keys, "metrics_require_key": True,
    })  # fmt: skip
    async with await open_client(settings, FakeModelServer([Script(1, "4")])) as c:
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "first-key"}):
            err = assert_openai_4xx(await c.post("/v1/chat/completions", json=TTS, headers=headers))
            assert err["code"] == "invalid_api_key"
        assert (await c.get("/metrics")).status_code == 401
        assert (await c.post("/admin/controllers/reload")).status_code == 401
        assert (await c.get("/healthz")).status_code == 200
        for key in ("first-key", "second-key"):
            r = await c.post("/v1/chat/completions", json=TTS,
                             headers={"authorization": f"Bearer {key}"})  # fmt: skip
            assert r.status_code == 200, r.text
        assert "first-key" not in repr(settings) and "second-key" not in repr(settings)


async def test_a_body_over_the_limit_is_a_413(client: httpx.AsyncClient) -> None:
    big = {"model": "fake", "messages": [{"role": "user", "content": "x" * 100_000}]}
    err = assert_openai_4xx(await client.post("/v1/chat/completions", json=big))
    assert err["code"] == "request_too_large"

    async def chunks() -> AsyncIterator[bytes]:  # no content-length: counted as it arrives
        yield b'{"model": "fake", "messages": [{"role": "user", "content": "'
        for _ in range(100):
            yield b"y" * 1000
        yield b'"}]}'

    r = await client.post("/v1/chat/completions", content=chunks(),
                          headers={"content-type": "application/json"})  # fmt: skip
    assert assert_openai_4xx(r)["code"] == "request_too_large"


async def test_past_the_queue_a_search_gets_429_with_retry_after(settings: Settings) -> None:
    settings = settings.model_copy(update={"max_concurrent_branches": 1, "max_queued_searches": 0})
    async with await open_client(settings, FakeModelServer([Script(1, "4")])) as c:
        app_service = c._transport.app.state.service  # type: ignore[attr-defined]
        async with app_service.slots.hold(1):  # another search holds the only slot
            r = await c.post("/v1/chat/completions", json=TTS)
            assert assert_openai_4xx(r)["type"] == "rate_limit_error"
            assert r.status_code == 429 and r.headers["retry-after"] == "2"
        assert (await c.post("/v1/chat/completions", json=TTS)).status_code == 200


async def test_a_stream_too_wide_for_the_free_slots_gets_429_before_it_starts(
    settings: Settings,
) -> None:
    settings = settings.model_copy(update={"max_concurrent_branches": 4, "max_queued_searches": 0})
    async with await open_client(settings, FakeModelServer([Script(2, "4", ["4", "4"])])) as c:
        service = c._transport.app.state.service  # type: ignore[attr-defined]
        wide = {**TTS, "stream": True, "tts": {"controller": "sc", "max_branches": 4}}
        async with service.slots.hold(2):  # another search holds half the slots
            r = await c.post("/v1/chat/completions", json=wide)
            assert r.status_code == 429 and r.headers["retry-after"] == "2"
            narrow = wide | {"tts": {"controller": "sc", "max_branches": 2}}
            assert (await c.post("/v1/chat/completions", json=narrow)).status_code == 200


async def test_branches_that_fail_are_reported_and_the_rest_answer(settings: Settings) -> None:
    async with await open_client(settings, FailingServer({1})) as c:
        body = {**TTS, "tts": {"beta": 1.0, "controller": "sc", "max_branches": 3}}
        r = await c.post("/v1/chat/completions", json=body)
        assert r.status_code == 200, r.text
        tts = r.json()["tts"]
        assert tts["failed_branches"] == 1 and tts["answer"] == "4"
        metrics = (await c.get("/metrics")).text
        assert 'tts_failed_branches_total{model="fake"} 1.0' in metrics


async def test_no_surviving_branch_is_a_502(settings: Settings) -> None:
    async with await open_client(settings, FailingServer({0, 1, 2})) as c:
        body = {**TTS, "tts": {"beta": 1.0, "controller": "sc", "max_branches": 3}}
        r = await c.post("/v1/chat/completions", json=body)
        assert r.status_code == 502 and r.json()["error"]["type"] == "backend_error"


RAISING = """
from tts_proxy.actions import Branch
from tts_proxy.controllers.base import Controller


class Raising(Controller):
    name = "raising"

    def decide(self, view):
        if not view.branches:
            return [Branch(2, to_end=True)]
        return 1 / 0
"""


async def test_a_raising_controller_falls_back_to_the_majority_and_is_counted(
    settings: Settings,
) -> None:
    assert settings.controllers_dir is not None
    settings.controllers_dir.mkdir(exist_ok=True)
    raising = settings.controllers_dir / "raising.py"
    raising.write_text(RAISING)
    trust = raising.with_name("trusted.txt")  # reviewed: it may run in process
    trust.write_text(f"{digest(raising)}  raising.py\n")
    settings = settings.model_copy(update={"trusted_controllers_file": trust})
    async with await open_client(settings, FakeModelServer([Script(1, "4")])) as c:
        body = {**TTS, "tts": {"controller": "raising"}}
        r = await c.post("/v1/chat/completions", json=body)
        assert r.status_code == 200, r.text
        tts = r.json()["tts"]
        assert tts["stop_reason"] == "controller_error" and tts["answer"] == "4"
        assert "ZeroDivisionError" in tts["fault"]
        metrics = (await c.get("/metrics")).text
        assert 'tts_controller_faults_total{controller="raising",kind="controller_error"} 1.0' in (
            metrics
        )


NASTY: list[Any] = [
    {"model": 7, "messages": CHAT},
    {"model": "fake", "messages": "hello"},
    {"model": "fake", "messages": []},
    {"model": "fake", "messages": [{"content": "no role"}]},
    {"model": "fake", "messages": CHAT, "tts": {"beta": "high"}},
    {"model": "fake", "messages": CHAT, "tts": {"beta": 1e308}},
    {"model": "fake", "messages": CHAT, "tts": {"beta": -0.0001}},
    {"model": "fake", "messages": CHAT, "tts": {"max_tokens": -1}},
    {"model": "fake", "messages": CHAT, "tts": {"max_seconds": 0}},
    {"model": "fake", "messages": CHAT, "tts": {"chunk_tokens": 1.5}},
    {"model": "fake", "messages": CHAT, "tts": {"controller": "\u0000\ud83d\ude00"}},
    {"model": "fake", "messages": CHAT, "tts": {"surprise": True}},
    {"model": "fake", "messages": CHAT, "tts": "beta=1"},
    {"model": "fake", "messages": CHAT, "tts": {"beta": 0.5}, "n": 3},
    {"model": "fake", "messages": CHAT, "tts": {"beta": 0.5}, "temperature": "hot"},
    {"model": "fake", "prompt": [[1, 2], [3]], "tts": {"beta": 0.5}},
    [1, 2, 3],
    "just a string",
    None,
]


@pytest.mark.parametrize("body", NASTY, ids=range(len(NASTY)))
async def test_nasty_inputs_get_an_openai_4xx(client: httpx.AsyncClient, body: Any) -> None:
    path = "/v1/completions" if isinstance(body, dict) and "prompt" in body else (
        "/v1/chat/completions")  # fmt: skip
    r = await client.post(path, content=json.dumps(body).encode(),
                          headers={"content-type": "application/json"})  # fmt: skip
    assert_openai_4xx(r)


async def test_nan_and_unicode_edges(client: httpx.AsyncClient) -> None:
    raw = b'{"model": "fake", "messages": [{"role": "user", "content": "x"}], "tts": {"beta": NaN}}'
    r = await client.post("/v1/chat/completions", content=raw,
                          headers={"content-type": "application/json"})  # fmt: skip
    assert_openai_4xx(r)
    r = await client.post("/v1/chat/completions", content=b"\xff\xfe{",
                          headers={"content-type": "application/json"})  # fmt: skip
    assert_openai_4xx(r)
    emoji = {"model": "fake", "messages": [{"role": "user", "content": "2+2? \U0001f914 \u202e"}],
             "tts": {"beta": 0.5, "controller": "sc"}}  # fmt: skip
    assert (await client.post("/v1/chat/completions", json=emoji)).status_code == 200


async def test_a_client_cannot_raise_the_servers_caps_and_is_told_so(
    client: httpx.AsyncClient,
) -> None:
    asks = {"max_branches": 10**30, "max_tokens": 10**12, "max_seconds": 1e9}
    body = {"model": "fake", "messages": CHAT, "max_tokens": 10**12,
            "tts": {"beta": 1.0, "controller": "sc", **asks}}  # fmt: skip
    r = await client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    tts = r.json()["tts"]
    assert tts["branches"] == Settings.model_fields["max_branches"].default
    capped = [w.split()[0] for w in tts["warnings"] if "capped at" in w]
    assert capped == [f"tts.{ask}" for ask in asks]
    within = {"max_branches": 3, "max_tokens": 1000, "max_seconds": 60}
    tts = (await client.post("/v1/chat/completions", json=body | {"tts": within})).json()["tts"]
    assert tts["branches"] <= 3 and not [w for w in tts["warnings"] if "capped" in w]


async def test_metrics_and_admin_can_live_on_their_own_port(settings: Settings) -> None:
    settings = settings.model_copy(update={"admin_port": 9999})
    app = create_app(settings, FakeModelServer([Script(1, "4")]))
    main = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://proxy")
    admin_transport = httpx.ASGITransport(app=app.state.admin_app)
    admin = httpx.AsyncClient(transport=admin_transport, base_url="http://admin")
    async with main, admin:
        assert (await main.post("/v1/chat/completions", json=TTS)).status_code == 200
        assert (await main.get("/metrics")).status_code == 404
        assert (await main.post("/admin/controllers/reload")).status_code == 404
        metrics = await admin.get("/metrics")
        assert metrics.status_code == 200 and "tts_requests_total" in metrics.text
        assert (await admin.post("/admin/controllers/reload")).status_code == 200
        assert (await admin.post("/v1/chat/completions", json=TTS)).status_code == 404
