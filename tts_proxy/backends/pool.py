"""Several model servers behind one: round-robin over those in rotation, failover on the rest.

A server that cannot be reached or times out leaves the rotation for ``cooldown`` seconds; the
call moves on to the next one, so a client only sees the error when every server failed. A
search stays on the server it started on (its prefix cache is there); its failed branches are
the engine's business. ``health`` asks every server, and brings back the ones that answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from tts_proxy.backends.base import Episode, ModelServer, Passthrough, Sampling
from tts_proxy.errors import BackendTimeoutError, BackendUnavailableError

T = TypeVar("T")
DOWN_ERRORS = (BackendUnavailableError, BackendTimeoutError)


class BackendPool:
    """A ``ModelServer`` over several: what the service sees when given more than one URL."""

    def __init__(
        self,
        servers: Sequence[ModelServer],
        *,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not servers:
            raise ValueError("a backend pool needs at least one server")
        self.servers = list(servers)
        self.cooldown = cooldown
        self.clock = clock
        self._down_until = [0.0] * len(self.servers)
        self._next = 0

    @property
    def calls(self) -> int:
        return sum(s.calls for s in self.servers)

    @property
    def observer(self) -> Callable[[str, bool], None] | None:
        return self.servers[0].observer

    @observer.setter
    def observer(self, value: Callable[[str, bool], None] | None) -> None:
        for s in self.servers:
            s.observer = value

    def in_rotation(self) -> list[int]:
        now = self.clock()
        return [i for i, until in enumerate(self._down_until) if until <= now]

    def _order(self) -> list[int]:
        """Servers to try, in rotation first (round-robin), then the resting ones."""
        up = self.in_rotation()
        start = self._next % len(self.servers)
        self._next += 1
        ring = [(start + k) % len(self.servers) for k in range(len(self.servers))]
        return [i for i in ring if i in up] + [i for i in ring if i not in up]

    async def _first(self, call: Callable[[ModelServer], Awaitable[T]]) -> T:
        error: Exception | None = None
        for i in self._order():
            try:
                return await call(self.servers[i])
            except DOWN_ERRORS as exc:
                self._down_until[i] = self.clock() + self.cooldown
                error = exc
        assert error is not None
        raise error

    async def health(self) -> bool:
        answers = await asyncio.gather(*(server.health() for server in self.servers))
        now = self.clock()
        for i, up in enumerate(answers):
            self._down_until[i] = 0.0 if up else now + self.cooldown
        return any(answers)

    async def models(self) -> list[dict[str, Any]]:
        return await self._first(lambda s: s.models())

    async def max_model_len(self, model: str) -> int | None:
        return await self._first(lambda s: s.max_model_len(model))

    async def tokenize(
        self,
        model: str,
        *,
        prompt: str | None = None,
        messages: Any = None,
        add_special_tokens: bool = True,
        tools: Sequence[Mapping[str, Any]] = (),
    ) -> list[int]:
        def call(s: ModelServer) -> Awaitable[list[int]]:
            return s.tokenize(
                model, prompt=prompt, messages=messages, add_special_tokens=add_special_tokens,
                tools=tools,
            )  # fmt: skip

        return await self._first(call)

    async def passthrough(self, path: str, body: dict[str, Any]) -> Passthrough:
        return await self._first(lambda s: s.passthrough(path, body))

    def episode(
        self, model: str, prompt_ids: list[int], sampling: Sampling, session: str = ""
    ) -> Episode:
        """A search's every branch on one server (its prompt's prefix is cached there)."""
        return self.servers[self._order()[0]].episode(model, prompt_ids, sampling, session)

    async def close(self) -> None:
        await asyncio.gather(*(server.close() for server in self.servers))
