"""Admission: a global cap on branches in flight, with a bounded queue in front of it.

Each search holds as many slots as it may run branches at once (its width) from start to
end. When the slots are taken, a search waits its turn (first come, first served); when the
queue is full it is refused at once with 429 and a ``Retry-After`` hint, rather than piling
onto a saturated GPU fleet.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tts_proxy.errors import OverloadedError

RETRY_AFTER_SECONDS = 2


class BranchSlots:
    def __init__(self, capacity: int, max_queue: int) -> None:
        self.capacity = capacity
        self.max_queue = max_queue
        self.in_use = 0
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    @property
    def queued(self) -> int:
        return len(self._waiting)

    def check(self, width: int) -> None:
        """Refuse now (429) if a search of ``width`` branches would have to queue and the
        queue is full, as ``hold`` would; called before a streamed response starts, so the
        refusal is a status code and not an event."""
        if self._must_wait(min(width, self.capacity)) and len(self._waiting) >= self.max_queue:
            raise self._overloaded()

    def _must_wait(self, need: int) -> bool:
        return bool(self._waiting) or self.in_use + need > self.capacity

    def _overloaded(self) -> OverloadedError:
        return OverloadedError(
            f"the server is running {self.in_use} branches and {self.queued} searches wait; "
            "retry later",
            code="overloaded",
        )

    @asynccontextmanager
    async def hold(self, width: int) -> AsyncIterator[None]:
        """Hold ``width`` slots (at most the capacity) while the block runs."""
        need = min(width, self.capacity)
        if self._must_wait(need):
            if len(self._waiting) >= self.max_queue:
                raise self._overloaded()
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.append((need, turn))
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self.in_use -= need  # granted as we were cancelled: give it back
                    self._wake()
                else:
                    self._waiting.remove((need, turn))
                raise
        else:
            self.in_use += need
        try:
            yield
        finally:
            self.in_use -= need
            self._wake()

    def _wake(self) -> None:
        while self._waiting and self.in_use + self._waiting[0][0] <= self.capacity:
            need, turn = self._waiting.popleft()
            if turn.cancelled():
                continue
            self.in_use += need
            turn.set_result(None)
