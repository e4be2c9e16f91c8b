"""Several model servers behind one: routed by model, round-robin over those in rotation,
failover on the rest.

Each server's models are learned from its ``/v1/models`` (on first use, on ``health``, and
again when a request names a model no server was known to serve); a call for a model goes
only to the servers that serve it (a model none serves goes to any, which answers its own
404). A server that cannot be reached or times out leaves the rotation for ``cooldown``
seconds; the call moves on to the next one, so a client only sees the error when every
server failed. A search stays on the server it started on (its prefix cache is there); its
failed branches are the engine's business. ``health`` asks every server, and brings back the
ones that answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from tts_proxy.backends.base import Episode, ModelServer, Passthrough, Sampling
from tts_proxy.errors import BackendTimeoutError, BackendUnavailableError, TTSProxyError

T = TypeVar("T")
DOWN_ERRORS = (BackendUnavailableError, BackendTimeoutError)
LIST_TIMEOUT_SECONDS = 5.0  # a server's /v1/models: past this it is taken for down


class BackendPool:
    """A ``ModelServer`` over several: what the service sees when given more than one URL."""

    def __init__(
        self,
        servers: Sequence[ModelServer],
        *,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        list_timeout: float = LIST_TIMEOUT_SECONDS,
    ) -> None:
        if not servers:
            raise ValueError("a backend pool needs at least one server")
        self.servers = list(servers)
        self.cooldown = cooldown
        self.clock = clock
        self.list_timeout = list_timeout
        self._down_until = [0.0] * len(self.servers)
        self._turns: dict[tuple[str, tuple[int, ...]], int] = {}
        self._served: list[frozenset[str] | None] = [None] * len(self.servers)
        self._retry_at = [0.0] * len(self.servers)  # when a server's models may be asked again
        self._learned_at = -float("inf")
        self._learning = asyncio.Lock()
        self._background: asyncio.Future[None] | None = None

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

    def _order(self, among: Sequence[int] | None = None, kind: str = "call") -> list[int]:
        """Servers to try (``among`` them), in rotation first (round-robin), then resting.
        Searches and other calls take turns apart, so searches alternate between servers
        whatever number of calls each makes."""
        group = tuple(range(len(self.servers)) if among is None else sorted(among))
        turn = self._turns.get((kind, group), 0)
        self._turns[(kind, group)] = turn + 1
        ring = [group[(turn + k) % len(group)] for k in range(len(group))]
        up = self.in_rotation()
        return [i for i in ring if i in up] + [i for i in ring if i not in up]

    def serving(self, model: str) -> list[int]:
        """The servers known to serve ``model`` (all of them when none is)."""
        known = [i for i, served in enumerate(self._served) if served and model in served]
        return known or list(range(len(self.servers)))

    def _knows(self, model: str) -> bool:
        return any(served and model in served for served in self._served)

    async def _ask(self, ask: Sequence[int]) -> list[list[dict[str, Any]] | None]:
        """Each asked server's model entries (None where it failed: it is asked again only
        after a cooldown, and one that cannot be reached in time leaves the rotation)."""

        async def one(i: int) -> list[dict[str, Any]] | None:
            try:
                answer = await asyncio.wait_for(self.servers[i].models(), self.list_timeout)
            except (TTSProxyError, TimeoutError) as exc:
                now = self.clock()
                self._retry_at[i] = now + self.cooldown
                if isinstance(exc, TimeoutError | BackendUnavailableError | BackendTimeoutError):
                    self._down_until[i] = now + self.cooldown
                return None
            entries = [m for m in answer if isinstance(m, dict) and isinstance(m.get("id"), str)]
            self._served[i] = frozenset(m["id"] for m in entries)
            return entries

        return list(await asyncio.gather(*(one(i) for i in ask)))

    async def _learn(self, *, force: bool = False) -> None:
        """Ask servers in rotation for their models: those not known yet, or all (``force``;
        at most once per ``cooldown``). One round at a time: concurrent requests share it."""
        async with self._learning:
            now = self.clock()
            if force and now - self._learned_at < self.cooldown:
                force = False
            up = set(self.in_rotation())
            ask = [
                i
                for i, served in enumerate(self._served)
                if i in up and self._retry_at[i] <= now and (force or served is None)
            ]
            if not ask:
                return
            if force:
                self._learned_at = now
            await self._ask(ask)

    def _learn_soon(self) -> None:
        """Learn what servers not known yet serve, in the background."""
        if self._background is None or self._background.done():
            self._background = asyncio.ensure_future(self._learn())

    async def _route(self, model: str) -> list[int]:
        """The servers for ``model``: at once when one is known to serve it (servers not
        known yet are asked in the background); else after asking them, then (once per
        cooldown) all of them again."""
        if any(served is None for served in self._served):
            self._learn_soon()
        if not self._knows(model):
            await self._learn()
        if not self._knows(model):
            await self._learn(force=True)  # a model added to a server since we asked
        return self.serving(model)

    async def _first(
        self, call: Callable[[ModelServer], Awaitable[T]], among: Sequence[int] | None = None
    ) -> T:
        error: Exception | None = None
        for i in self._order(among):
            try:
                return await call(self.servers[i])
            except DOWN_ERRORS as exc:
                self._down_until[i] = self.clock() + self.cooldown
                error = exc
        assert error is not None
        raise error

    async def health(self) -> bool:
        """Ask every server; those that answer come back (and may be asked for their models
        again). What a server that is down served is kept: it will likely serve it again."""
        answers = await asyncio.gather(*(server.health() for server in self.servers))
        now = self.clock()
        for i, up in enumerate(answers):
            self._down_until[i] = 0.0 if up else now + self.cooldown
            if up:
                self._retry_at[i] = 0.0
        await self._learn()
        return any(answers)

    async def models(self) -> list[dict[str, Any]]:
        """Every model the servers in rotation serve, once each (the first server's entry)."""
        ask = self.in_rotation() or list(range(len(self.servers)))
        lists = await self._ask(ask)
        if all(entries is None for entries in lists):
            raise BackendUnavailableError("no model server answered its /v1/models")
        seen: dict[str, dict[str, Any]] = {}
        for entries in lists:
            for m in entries or []:
                seen.setdefault(m["id"], m)
        return list(seen.values())

    async def max_model_len(self, model: str) -> int | None:
        return await self._first(lambda s: s.max_model_len(model), await self._route(model))

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

        return await self._first(call, await self._route(model))

    async def passthrough(self, path: str, body: bytes, model: str) -> Passthrough:
        among = await self._route(model)
        return await self._first(lambda s: s.passthrough(path, body, model), among)

    def episode(
        self, model: str, prompt_ids: list[int], sampling: Sampling, session: str = ""
    ) -> Episode:
        """A search's every branch on one server that serves ``model`` (its prompt's prefix
        is cached there)."""
        server = self.servers[self._order(self.serving(model), "search")[0]]
        return server.episode(model, prompt_ids, sampling, session)

    async def close(self) -> None:
        if self._background is not None:
            self._background.cancel()
        await asyncio.gather(*(server.close() for server in self.servers))
