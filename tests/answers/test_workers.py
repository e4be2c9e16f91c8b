"""Answer workers: a call past the time or memory limit returns the fallback, the pool goes
on serving, and awaiting a call leaves the event loop free."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from tts_proxy.answers.workers import AnswerWorkers

pytestmark = pytest.mark.anyio


def spin(seconds: float) -> str:
    """Busy CPU for ``seconds`` (a stand-in for a parse that does not end)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return "done"


def allocate(gigabytes: int) -> str:
    blob = bytearray(gigabytes << 30)
    return str(len(blob))


def echo(text: str) -> str:
    return text


@pytest.fixture
def pool() -> Iterator[AnswerWorkers]:
    workers = AnswerWorkers(1, timeout=0.5, memory_bytes=1 << 30)
    yield workers
    workers.close()


def test_a_call_past_the_time_limit_returns_the_fallback_and_the_pool_serves_on(
    pool: AnswerWorkers,
) -> None:
    assert pool.call(spin, (60.0,), fallback="cut off") == "cut off"
    assert pool.cut_off == 1
    assert pool.call(echo, ("next",), fallback="") == "next"


def test_a_call_past_the_memory_limit_returns_the_fallback(pool: AnswerWorkers) -> None:
    assert pool.call(allocate, (8,), fallback="no memory") == "no memory"
    assert pool.call(echo, ("next",), fallback="") == "next"


def test_map_keeps_order_and_falls_back_per_call(pool: AnswerWorkers) -> None:
    calls = [("a",), ("b",), ("c",)]
    assert pool.map(echo, calls, fallback=lambda s: "?") == ["a", "b", "c"]
    assert pool.map(spin, [(60.0,)], fallback=lambda s: "slow") == ["slow"]


async def test_awaiting_a_slow_call_leaves_the_event_loop_free(pool: AnswerWorkers) -> None:
    other = asyncio.Event()

    async def meanwhile() -> None:
        other.set()

    slow = asyncio.ensure_future(pool.acall(spin, (0.3,), fallback="cut off"))
    await asyncio.gather(meanwhile(), asyncio.sleep(0))
    assert other.is_set() and not slow.done()
    assert await slow == "done"


async def test_a_cancelled_caller_does_not_kill_the_call(pool: AnswerWorkers) -> None:
    task = asyncio.ensure_future(pool.acall(spin, (0.2,), fallback="cut off"))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert pool.call(echo, ("still here",), fallback="") == "still here"
    assert pool.cut_off == 0


def test_no_processes_runs_in_the_caller() -> None:
    assert AnswerWorkers(0).call(echo, ("here",), fallback="") == "here"
