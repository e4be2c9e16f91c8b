"""A pool of servers routes by model: it learns what each serves from /v1/models."""

from __future__ import annotations

import asyncio

import pytest

from tests.fakes import FakeModelServer, Script
from tts_proxy.backends.base import Sampling
from tts_proxy.backends.pool import BackendPool
from tts_proxy.errors import BackendUnavailableError

pytestmark = pytest.mark.anyio


def server(*served: str) -> FakeModelServer:
    return FakeModelServer([Script(1, "4", [])], served=served)


async def test_calls_for_a_model_go_only_to_the_servers_that_serve_it() -> None:
    a, b, c = server("small"), server("large"), server("large")
    pool = BackendPool([a, b, c])
    for _ in range(4):
        await pool.passthrough("/chat/completions", b"{}", "large")
        await pool.max_model_len("small")
        pool.episode("small", [1], Sampling())
    assert not a.forwarded and len(b.forwarded) == len(c.forwarded) == 2  # round-robin
    assert a.episode_models == ["small"] * 4 and not b.episode_models and not c.episode_models


async def test_the_model_list_is_every_servers_once() -> None:
    pool = BackendPool([server("small", "shared"), server("large", "shared")])
    assert [m["id"] for m in await pool.models()] == ["small", "shared", "large"]


async def test_a_model_no_server_was_known_to_serve_is_learned_again() -> None:
    now = [0.0]
    a, b = server("small"), server("large")
    pool = BackendPool([a, b], cooldown=30, clock=lambda: now[0])
    await pool.max_model_len("small")
    b.served.append("new")
    now[0] = 31.0
    await pool.passthrough("/completions", b"{}", "new")
    assert b.forwarded and not a.forwarded


async def test_a_model_nobody_serves_goes_to_any_server_for_its_own_error() -> None:
    a, b = server("small"), server("large")
    pool = BackendPool([a, b])
    await pool.passthrough("/completions", b"{}", "nope")
    await pool.passthrough("/completions", b"{}", "nope")
    assert len(a.forwarded) == len(b.forwarded) == 1


async def test_a_server_that_cannot_list_its_models_leaves_the_rotation() -> None:
    class Down(FakeModelServer):
        async def models(self) -> list[dict[str, object]]:
            raise BackendUnavailableError("refused")

    down, up = Down([Script(1, "4", [])], served=["large"]), server("large")
    pool = BackendPool([down, up], cooldown=30)
    await pool.passthrough("/completions", b"{}", "large")
    assert pool.in_rotation() == [1] and up.forwarded
    assert [m["id"] for m in await pool.models()] == ["large"]


async def test_a_server_that_never_lists_its_models_holds_nothing_up_for_long() -> None:
    class Hanging(FakeModelServer):
        async def models(self) -> list[dict[str, object]]:
            await asyncio.sleep(3600)
            return []

    hanging, up = Hanging([Script(1, "4", [])], served=["large"]), server("large")
    pool = BackendPool([hanging, up], cooldown=30, list_timeout=0.05)
    await asyncio.wait_for(pool.passthrough("/completions", b"{}", "large"), 5)
    assert up.forwarded and pool.in_rotation() == [1]
    await pool.passthrough("/completions", b"{}", "large")  # no second wait: it rests
    assert len(up.forwarded) == 2
    await pool.close()


async def test_what_a_server_served_is_kept_while_it_is_down() -> None:
    a, b = server("small"), server("large")
    pool = BackendPool([a, b], cooldown=30)
    await pool.models()
    b.healthy = False
    await pool.health()
    assert pool.serving("large") == [1]  # still its model's server: a 503, not another's 404
