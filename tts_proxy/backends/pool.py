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
        self._turns: dict[tuple[str, tuple[int, ...]], int] = {}
        self._served: list[frozenset[str] | None] = [None] * len(self.servers)
        self._learned_at = -float("inf")

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

    async def _learn(self, *, force: bool = False) -> None:
        """Ask servers in rotation for their models: those not asked yet, or all (``force``;
        at most once per ``cooldown``). One that cannot be reached leaves the rotation and is
        asked again when it is back."""
        now = self.clock()
        if force and now - self._learned_at < self.cooldown:
            force = False
        up = self.in_rotation()
        ask = [i for i, s in enumerate(self._served) if i in up and (force or s is None)]
        if not ask:
            return
        if force:
            self._learned_at = now
        answers = await asyncio.gather(
            *(self.servers[i].models() for i in ask), return_exceptions=True
        )
        for i, answer in zip(ask, answers, strict=True):
            if isinstance(answer, BaseException):
                if not isinstance(answer, TTSProxyError):
                    raise answer
                if isinstance(answer, DOWN_ERRORS):
                    self._down_until[i] = self.clock() + self.cooldown
                continue
            self._served[i] = frozenset(str(m.get("id")) for m in answer)

    async def _route(self, model: str) -> list[int]:
        await self._learn()
        if not any(served and model in served for served in self._served):
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
        answers = await asyncio.gather(*(server.health() for server in self.servers))
        now = self.clock()
        for i, up in enumerate(answers):
            self._down_until[i] = 0.0 if up else now + self.cooldown
            if not up:
                self._served[i] = None  # it may come back with other models
        await self._learn()
        return any(answers)

    async def models(self) -> list[dict[str, Any]]:
        """Every model any server serves, once each (the first server's entry)."""
        answers = await asyncio.gather(*(s.models() for s in self.servers), return_exceptions=True)
        seen: dict[str, dict[str, Any]] = {}
        error: BaseException | None = None
        for i, answer in enumerate(answers):
            if isinstance(answer, BaseException):
                if not isinstance(answer, TTSProxyError):
                    raise answer
                error = answer
                continue
            self._served[i] = frozenset(str(m.get("id")) for m in answer)
            for m in answer:
                seen.setdefault(str(m.get("id")), m)
        if not seen and error is not None:
            raise error
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

    async def passthrough(self, path: str, body: dict[str, Any]) -> Passthrough:
        among = await self._route(str(body.get("model")))
        return await self._first(lambda s: s.passthrough(path, body), among)

    def episode(
        self, model: str, prompt_ids: list[int], sampling: Sampling, session: str = ""
    ) -> Episode:
        """A search's every branch on one server that serves ``model`` (its prompt's prefix
        is cached there)."""
        server = self.servers[self._order(self.serving(model), "search")[0]]
        return server.episode(model, prompt_ids, sampling, session)

    async def close(self) -> None:
        await asyncio.gather(*(server.close() for server in self.servers))
