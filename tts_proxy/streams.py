"""Branches as streams: what the streamed engine drives, live and in replay.

``LiveStreams`` keeps one streaming completion per branch. At each chunk boundary it reports
a ``Step`` (steps that arrive within ``COALESCE_SECONDS`` of each other -- branches the server
decoded in one batch step -- come together) and holds the stream (tokens that keep arriving
wait in a look-ahead buffer); the engine then lets it go on (``advance``: no new request,
nothing re-sent), or aborts it (``pause``; a later ``advance`` resumes from the branch's kept
token ids). A probe is its own short completion, run beside the stream.

``SimulatedStreams`` gives the same seam over an episode that generates a chunk per call
(replay, a scripted fake), on a clock counted in generated tokens: every branch decodes one
token per tick and a probe takes no time, so a step arrives ``chunk.tokens`` ticks after the
branch was let go, and steps of the same tick arrive together. With chunks of equal size this
is exactly the round engine's grouping; a branch that ends early is seen early, as live.
"""

from __future__ import annotations

import asyncio
import copy
import heapq
import logging
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from tts_proxy.backends.base import (
    Chunk,
    Episode,
    Piece,
    Probed,
    Step,
    StreamingEpisode,
    Streams,
)
from tts_proxy.errors import BackendError, TTSProxyError
from tts_proxy.state import BranchState

log = logging.getLogger(__name__)
# Events this close after the first are shown with it (a decode step is longer than this).
COALESCE_SECONDS = 0.005


def open_streams(episode: Episode) -> Streams:
    """Live streams where the episode can stream, else the token-clock simulation."""
    if isinstance(episode, StreamingEpisode):
        return LiveStreams(episode)
    return SimulatedStreams(episode)


def chunk_of(pieces: Sequence[Piece]) -> Chunk:
    """The chunk a run of pieces makes (a branch's end is a ``stop``, not a length cap)."""
    reason = pieces[-1].finish_reason if pieces else None
    return Chunk(
        tokens=sum(len(p.ids) for p in pieces),
        text="".join(p.text for p in pieces),
        finished=reason == "stop",
        finish_reason="stop" if reason == "stop" else None,
        logprobs=tuple(lp for p in pieces for lp in p.logprobs),
    )


@dataclass(slots=True, eq=False)
class _Live:
    """One branch's stream: what it generated that no step has reported yet."""

    branch: BranchState
    limit: int  # tokens the branch may still generate
    task: asyncio.Task[None] | None = None
    buffer: list[Piece] = field(default_factory=list)
    want: int | None = None  # tokens the chunk in flight takes; None: held at a boundary
    probe: bool = False  # probe at the boundary, and report the step with it
    ended: bool = False
    error: BackendError | None = None
    unreported: int = 0  # tokens in ``buffer``
    finish_buffered: bool = False  # the buffer holds the completion's last piece

    def add(self, piece: Piece) -> None:
        self.buffer.append(piece)
        self.unreported += len(piece.ids)
        self.finish_buffered = self.finish_buffered or piece.finish_reason is not None

    def ready(self) -> bool:
        """Whether the chunk in flight can be cut now (checked per piece: O(1))."""
        want = self.want
        return want is not None and (self.unreported >= want or self.finish_buffered or self.ended)


class LiveStreams:
    """One streaming completion per branch on a ``StreamingEpisode``."""

    def __init__(self, episode: StreamingEpisode, coalesce: float = COALESCE_SECONDS) -> None:
        self.episode = episode
        self.coalesce = coalesce
        self._queue: asyncio.Queue[Step | Probed | TTSProxyError] = asyncio.Queue()
        self._live: dict[int, _Live] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def advance(self, branch: BranchState, tokens: int, limit: int, *, probe: bool) -> None:
        stream = self._live.get(branch.id)
        if stream is None:
            stream = self._live[branch.id] = _Live(branch, limit)
            stream.task = self._spawn(self._guarded(self._read(stream)))
        stream.want, stream.probe = tokens, probe
        self._check(stream)

    def probe(self, branch: BranchState) -> None:
        async def run() -> None:
            (result,) = await self.episode.probe([branch])
            self._queue.put_nowait(Probed(branch, result))

        self._spawn(self._guarded(run()))

    async def _guarded(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a stream's or a probe's work; an error that is not one branch's failure (a 4xx
        the request caused, a bug) reaches the engine through ``events``."""
        try:
            await work
        except asyncio.CancelledError:
            raise
        except TTSProxyError as exc:
            self._queue.put_nowait(exc)
        except Exception as exc:
            log.exception("a branch's stream failed")
            self._queue.put_nowait(TTSProxyError(f"internal error in a branch's stream: {exc}"))

    def pause(self, branch: BranchState) -> int:
        return self.stop(branch)

    def stop(self, branch: BranchState) -> int:
        stream = self._live.pop(branch.id, None)
        if stream is None:
            return 0
        if stream.task is not None:
            stream.task.cancel()  # closes the HTTP stream: the server aborts the request
        return stream.unreported

    async def events(self) -> list[Step | Probed]:
        out = [await self._queue.get()]
        # Branches decoded in one batch step of the server cross their boundaries at once,
        # their events a moment apart: wait that moment, so they are decided together.
        await asyncio.sleep(self.coalesce)
        while not self._queue.empty():
            out.append(self._queue.get_nowait())
        for item in out:
            if isinstance(item, TTSProxyError):
                raise item
        return out  # type: ignore[return-value]

    async def close(self) -> int:
        unreported = sum(s.unreported for s in self._live.values())
        self._live.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return unreported

    async def _read(self, stream: _Live) -> None:
        try:
            async for piece in self.episode.open(stream.branch, stream.limit):
                stream.add(piece)
                self._check(stream)
        except BackendError as exc:  # this branch failed at the backend; the others go on
            stream.error = exc
        stream.ended = True
        self._check(stream)

    def _check(self, stream: _Live) -> None:
        """Report the chunk in flight once its tokens (or the stream's end) have arrived."""
        want = stream.want
        if want is None or not stream.ready() or self._live.get(stream.branch.id) is not stream:
            return
        count, taken = 0, 0
        for piece in stream.buffer:
            count += 1
            taken += len(piece.ids)
            if taken >= want or piece.finish_reason is not None:
                break
        else:
            if not stream.ended:
                return
            # A completion ends with a finish reason: one that just stops was cut off.
            error = stream.error or BackendError("the model server's stream ended unfinished")
            self._live.pop(stream.branch.id, None)
            self._queue.put_nowait(Step(stream.branch, error))
            return
        pieces = stream.buffer[:count]
        del stream.buffer[:count]
        chunk = chunk_of(pieces)
        stream.unreported -= chunk.tokens
        self.episode.keep(stream.branch, [t for p in pieces for t in p.ids])
        stream.want = None
        stream.limit -= chunk.tokens
        if pieces[-1].finish_reason is not None:
            self._live.pop(stream.branch.id, None)  # a later advance opens a new stream
        if stream.probe and not chunk.finished and stream.limit > 0:
            self._spawn(self._guarded(self._probe_step(stream.branch, chunk)))
        else:
            self._queue.put_nowait(Step(stream.branch, chunk))

    async def _probe_step(self, branch: BranchState, chunk: Chunk) -> None:
        (result,) = await self.episode.probe([branch])
        self._queue.put_nowait(Step(branch, chunk, result))


@dataclass(order=True, slots=True)
class _Due:
    at: int
    seq: int
    event: Step | Probed = field(compare=False)
    start: int = field(compare=False, default=0)
    cancelled: bool = field(compare=False, default=False)


class SimulatedStreams:
    """Streams over a chunk-per-call episode, on a clock of generated tokens."""

    def __init__(self, episode: Episode) -> None:
        self.episode = episode
        self.now = 0
        self._seq = 0
        self._due: list[_Due] = []
        self._flying: dict[int, _Due] = {}  # a branch's step in flight, by branch id
        self._advances: list[tuple[BranchState, int, int, bool]] = []
        self._probes: list[BranchState] = []

    def advance(self, branch: BranchState, tokens: int, limit: int, *, probe: bool) -> None:
        self._advances.append((branch, tokens, limit, probe))

    def probe(self, branch: BranchState) -> None:
        self._probes.append(branch)

    def pause(self, branch: BranchState) -> int:
        return 0  # a simulated branch generates nothing between its chunks

    def stop(self, branch: BranchState) -> int:
        self._advances = [a for a in self._advances if a[0] is not branch]
        self._probes = [b for b in self._probes if b is not branch]
        due = self._flying.pop(branch.id, None)
        if due is None or not isinstance(due.event, Step):
            return 0
        due.cancelled = True
        made = due.event.chunk.tokens if isinstance(due.event.chunk, Chunk) else 0
        return min(self.now - due.start, made)  # what it had generated when it was stopped

    async def events(self) -> list[Step | Probed]:
        await self._launch()
        while self._due and self._due[0].cancelled:
            heapq.heappop(self._due)
        if not self._due:
            return []
        at = self._due[0].at
        out: list[Step | Probed] = []
        while self._due and self._due[0].at == at:
            due = heapq.heappop(self._due)
            if not due.cancelled:
                self._flying.pop(due.event.branch.id, None)
                out.append(due.event)
        self.now = at
        return out

    async def close(self) -> int:
        unreported = sum(self.stop(d.event.branch) for d in list(self._flying.values()))
        self._due.clear()
        return unreported

    def _schedule(self, event: Step | Probed, after: int) -> None:
        self._seq += 1
        due = _Due(self.now + after, self._seq, event, self.now)
        heapq.heappush(self._due, due)
        if isinstance(event, Step):
            self._flying[event.branch.id] = due

    async def _launch(self) -> None:
        advances, self._advances = self._advances, []
        probes, self._probes = self._probes, []
        if probes:
            for branch, result in zip(probes, await self.episode.probe(probes), strict=True):
                self._schedule(Probed(branch, result), 0)
        if not advances:
            return
        chunks = await self.episode.extend([(b, n) for b, n, _, _ in advances])
        then: list[tuple[BranchState, Chunk, BranchState]] = []
        for (branch, _, limit, probe), chunk in zip(advances, chunks, strict=True):
            if isinstance(chunk, BackendError):
                self._schedule(Step(branch, chunk), 0)
            elif probe and not chunk.finished and chunk.tokens < limit:
                then.append((branch, chunk, _after(branch, chunk)))
            else:
                self._schedule(Step(branch, chunk), max(1, chunk.tokens))
        if then:
            results = await self.episode.probe([shadow for _, _, shadow in then])
            for (branch, chunk, _), result in zip(then, results, strict=True):
                self._schedule(Step(branch, chunk, result), max(1, chunk.tokens))


def _after(branch: BranchState, chunk: Chunk) -> BranchState:
    """The branch as it stands after ``chunk``: what its boundary's probe reads (the engine
    folds the chunk into the real state only when the step arrives)."""
    shadow = copy.copy(branch)
    shadow.depth += chunk.steps
    shadow.tokens += chunk.tokens
    shadow.text += chunk.text
    return shadow
