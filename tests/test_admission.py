"""The global branch cap: waiting in turn, refusing past the queue, cancellation safety."""

from __future__ import annotations

import asyncio

import pytest

from tts_proxy.admission import BranchSlots
from tts_proxy.errors import OverloadedError

pytestmark = pytest.mark.anyio


async def test_searches_wait_their_turn_and_the_queue_has_a_limit() -> None:
    slots = BranchSlots(capacity=4, max_queue=1)
    order: list[str] = []
    release = asyncio.Event()

    async def search(name: str, width: int) -> None:
        async with slots.hold(width):
            order.append(name)
            await release.wait()

    first = asyncio.create_task(search("a", 4))
    await asyncio.sleep(0)
    second = asyncio.create_task(search("b", 2))
    await asyncio.sleep(0)
    assert slots.in_use == 4 and slots.queued == 1
    with pytest.raises(OverloadedError):
        slots.check(1)
    with pytest.raises(OverloadedError):
        async with slots.hold(1):
            pass
    release.set()
    await asyncio.gather(first, second)
    assert order == ["a", "b"] and slots.in_use == 0 and slots.queued == 0


@pytest.mark.parametrize("width", [1, 2, 3, 4, 9])
async def test_check_refuses_exactly_the_searches_hold_would_refuse(width: int) -> None:
    # Without a queue: a search fits in the free slots, or is refused now.
    slots = BranchSlots(capacity=4, max_queue=0)
    async with slots.hold(2):
        fits = width <= 2
        try:
            slots.check(width)
        except OverloadedError:
            assert not fits
        else:
            assert fits
        try:
            async with slots.hold(width):
                held = True
        except OverloadedError:
            held = False
        assert held == fits


async def test_a_cancelled_waiter_leaves_no_slot_behind() -> None:
    slots = BranchSlots(capacity=2, max_queue=4)
    hold = asyncio.Event()

    async def busy() -> None:
        async with slots.hold(2):
            await hold.wait()

    owner = asyncio.create_task(busy())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(busy())
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.sleep(0)
    hold.set()
    await owner
    assert slots.in_use == 0 and slots.queued == 0
