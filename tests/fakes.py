"""Fakes for unit tests: a scripted episode and a model server that never runs a model."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tts_proxy.backends.base import Chunk, Piece, ProbeResult, Sampling
from tts_proxy.errors import BackendError
from tts_proxy.state import BranchState


@dataclass
class Script:
    """A branch finishing after ``chunks`` chunks with ``answer``; probes read ``probes[d-1]``."""

    chunks: int
    answer: str | None
    probes: list[str | None] = field(default_factory=list)


class FakeEpisode:
    """Branch i follows ``scripts[i % len(scripts)]``; every call is recorded.

    A call for n tokens is one chunk of n tokens, unless ``chunk_tokens`` is set and n spans
    several chunks (a run to the end): then the script is that many tokens per chunk, and the
    call generates n tokens or up to the script's end.
    """

    def __init__(
        self,
        scripts: Sequence[Script],
        max_branches: int | None = None,
        chunk_tokens: int | None = None,
        *,
        failing: set[int] | None = None,
        delay: float = 0.0,
    ) -> None:
        self.scripts = list(scripts)
        self.max_branches = max_branches
        self.chunk_tokens = chunk_tokens
        self.failing = failing or set()  # branch ids whose chunks fail at the "backend"
        self.delay = delay  # seconds each extend takes (for deadlines and cancellation)
        self.cancelled = 0
        self.extended: list[tuple[int, int]] = []
        self.probed: list[tuple[int, int]] = []
        self.released: list[int] = []

    def _script(self, branch: BranchState) -> Script:
        return self.scripts[branch.id % len(self.scripts)]

    async def extend(
        self, requests: Sequence[tuple[BranchState, int]]
    ) -> Sequence[Chunk | BackendError]:
        if self.delay:
            try:
                await asyncio.sleep(self.delay)
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        out: list[Chunk | BackendError] = []
        for branch, n in requests:
            self.extended.append((branch.id, branch.depth))
            if branch.id in self.failing:
                out.append(BackendError("the fake backend failed this branch"))
                continue
            script = self._script(branch)
            unit = self.chunk_tokens
            if unit and n > unit:  # the script is `chunks` chunks of `unit` tokens long
                tokens = min(n, script.chunks * unit - branch.tokens)
                steps = max(1, tokens // unit)
                done = branch.depth + steps >= script.chunks
            else:
                tokens, steps, done = n, 1, branch.depth + 1 >= script.chunks
            text = "".join(f"[{branch.id}:{branch.depth + i}]" for i in range(steps))
            if done and script.answer is not None:
                text += f" The answer is \\boxed{{{script.answer}}}"
            out.append(Chunk(tokens, text, done, "stop" if done else None, steps=steps))
        return out

    async def probe(self, branches: Sequence[BranchState]) -> Sequence[ProbeResult | BackendError]:
        out: list[ProbeResult | BackendError] = []
        for b in branches:
            self.probed.append((b.id, b.depth))
            probes = self._script(b).probes
            answer = probes[b.depth - 1] if b.depth - 1 < len(probes) else None
            out.append(ProbeResult(answer, 3, 0.9, f"{answer}}}"))
        return out

    async def release(self, branches: Sequence[BranchState]) -> None:
        self.released += [b.id for b in branches]


class FakeStreamingEpisode(FakeEpisode):
    """A ``FakeEpisode`` that also streams: branch i decodes a token every ``seconds[i]``
    (default ``tick``) for ``script.chunks * unit`` tokens, then stops with its answer. It
    records every stream it opened (branch, kept ids) and every one that was aborted."""

    def __init__(
        self, scripts: Sequence[Script], unit: int, *, tick: float = 0.001,
        seconds: Mapping[int, float] | None = None, failing: set[int] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(scripts, chunk_tokens=unit, failing=failing)
        self.unit = unit
        self.tick = tick
        self.seconds = dict(seconds or {})
        self.kept: dict[int, list[int]] = {}
        self.opened: list[tuple[int, int]] = []
        self.aborted: list[int] = []
        self.probed_ids: list[tuple[int, int]] = []

    async def open(self, branch: BranchState, max_tokens: int) -> AsyncIterator[Piece]:
        kept = len(self.kept.get(branch.id, []))
        self.opened.append((branch.id, kept))
        if branch.id in self.failing:
            raise BackendError("the fake backend failed this stream")
        script = self._script(branch)
        total = min(script.chunks * self.unit, kept + max_tokens)
        try:
            for at in range(kept, total):
                await asyncio.sleep(self.seconds.get(branch.id, self.tick))
                last = at == total - 1
                ends = last and total == script.chunks * self.unit
                text = f" The answer is \\boxed{{{script.answer}}}" if ends else "."
                reason = ("stop" if ends else "length") if last else None
                yield Piece((at,), text, finish_reason=reason)
        except (asyncio.CancelledError, GeneratorExit):
            self.aborted.append(branch.id)
            raise

    def keep(self, branch: BranchState, ids: Sequence[int]) -> None:
        self.kept.setdefault(branch.id, []).extend(ids)

    async def probe(self, branches: Sequence[BranchState]) -> Sequence[ProbeResult | BackendError]:
        """Probes read the branch where its kept ids end (its last boundary)."""
        out: list[ProbeResult | BackendError] = []
        for b in branches:
            depth = len(self.kept.get(b.id, [])) // self.unit
            self.probed_ids.append((b.id, len(self.kept.get(b.id, []))))
            probes = self._script(b).probes
            answer = probes[depth - 1] if 0 < depth <= len(probes) else None
            out.append(ProbeResult(answer, 3, 0.9, f"{answer}}}"))
        return out


class FakePassthrough:
    def __init__(self, status_code: int, payload: bytes) -> None:
        self.status_code = status_code
        self.media_type = "application/json"
        self._payload = payload

    async def body(self) -> AsyncIterator[bytes]:
        yield self._payload


class FakeModelServer:
    """Tokenizes by characters and serves scripted episodes."""

    def __init__(
        self,
        scripts: Sequence[Script],
        *,
        healthy: bool = True,
        chunk_tokens: int = 8,
        keep_episodes: bool = True,  # False for load runs: memory must stay the proxy's
        served: Sequence[str] = ("fake",),
    ) -> None:
        self.served = list(served)
        self.episode_models: list[str] = []
        self.samplings: list[Sampling] = []
        self.scripts = scripts
        self.keep_episodes = keep_episodes
        self.chunk_tokens = chunk_tokens
        self.healthy = healthy
        self.calls = 0
        self.observer: Callable[[str, bool], None] | None = None
        self.episodes: list[FakeEpisode] = []
        self.forwarded: list[tuple[str, dict[str, Any]]] = []
        self.forwarded_bytes: list[bytes] = []

    async def health(self) -> bool:
        return self.healthy

    async def models(self) -> list[dict[str, Any]]:
        return [{"id": name, "object": "model", "max_model_len": 4096} for name in self.served]

    async def max_model_len(self, model: str) -> int | None:
        return 4096 if model in self.served else None

    async def tokenize(
        self, model: str, *, prompt: str | None = None, messages: Any = None,
        add_special_tokens: bool = True, tools: Sequence[Mapping[str, Any]] = (),
    ) -> list[int]:  # fmt: skip
        text = prompt if messages is None else "".join(str(m.get("content")) for m in messages)
        return [ord(c) for c in text or ""]

    async def passthrough(self, path: str, body: bytes, model: str) -> FakePassthrough:
        self.forwarded.append((path, json.loads(body)))
        self.forwarded_bytes.append(body)
        return FakePassthrough(200, b'{"passthrough": true}')

    def episode(
        self, model: str, prompt_ids: list[int], sampling: Sampling, session: str = ""
    ) -> FakeEpisode:
        episode = FakeEpisode(self.scripts, chunk_tokens=self.chunk_tokens)
        if self.keep_episodes:
            self.episodes.append(episode)
            self.episode_models.append(model)
            self.samplings.append(sampling)
        return episode

    async def close(self) -> None:
        return None
