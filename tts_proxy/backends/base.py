"""The seam between the engine and a model: one ``Episode`` per search.

An episode holds whatever a backend needs per branch (token ids for vLLM, a recorded
trajectory for replay); the engine only sees chunk and probe results.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, TypeVar, runtime_checkable

from tts_proxy.confidence import ConfidenceSignals
from tts_proxy.errors import BackendError
from tts_proxy.state import BranchState, TokenLogprob

T = TypeVar("T")


async def settle(calls: Iterable[Awaitable[T]]) -> list[T | BackendError]:
    """Run calls concurrently; a backend failure becomes that call's result, anything else
    (a bug, a cancellation) propagates."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException) and not isinstance(r, BackendError):
            raise r
    return results  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Chunk:
    """What one CONTINUE (or the first chunk of a BRANCH) produced."""

    tokens: int
    text: str = ""
    finished: bool = False
    finish_reason: str | None = None
    answer: str | None = None  # the final answer, when the backend knows it (replay)
    steps: int = 1  # chunk boundaries crossed: the branch's depth grows by this much
    key: str | None = None  # the final answer's key, when the backend knows it
    logprobs: tuple[TokenLogprob, ...] = ()  # when sampling asks for them
    confidence: ConfidenceSignals | None = None  # as recorded (replay); live: from logprobs


@dataclass(frozen=True, slots=True)
class Sampling:
    """How branches are sampled (from the client's request) and how probes read answers."""

    temperature: float = 0.8
    top_p: float | None = None
    seed: int | None = None
    stop: list[str] | None = None
    probe_suffix_ids: tuple[int, ...] = ()
    probe_tokens: int = 24
    extra: Mapping[str, Any] = field(default_factory=dict)  # more per-branch vLLM parameters
    logprobs: int | None = None  # alternatives per branch token to return (None: no logprobs)


class ProbeResult(NamedTuple):
    """What a probe read: the answer (None if none), its key when the backend knows it.
    (A NamedTuple, as ``state.ProbeRecord``: replay builds one per probe.)"""

    answer: str | None
    tokens: int = 0
    confidence: float | None = None
    text: str = ""
    key: str | None = None


class Episode(Protocol):
    """One search's connection to a model.

    ``extend`` gets branches with the number of tokens each may generate now (a branch at
    depth 0 is new); results come back in the same order. Calls in a list run concurrently.
    A call that failed at the backend comes back as its ``BackendError`` (the others stand).
    """

    max_branches: int | None

    async def extend(
        self, requests: Sequence[tuple[BranchState, int]]
    ) -> Sequence[Chunk | BackendError]: ...

    async def probe(
        self, branches: Sequence[BranchState]
    ) -> Sequence[ProbeResult | BackendError]: ...

    async def release(self, branches: Sequence[BranchState]) -> None: ...


@dataclass(frozen=True, slots=True)
class Piece:
    """One delta of a branch's streamed completion: its token ids, text and logprobs."""

    ids: tuple[int, ...]
    text: str = ""
    logprobs: tuple[TokenLogprob, ...] = ()
    finish_reason: str | None = None


@runtime_checkable
class StreamingEpisode(Episode, Protocol):
    """An episode that can also stream a branch: one completion from the branch's kept token
    ids for up to ``max_tokens`` tokens, read piece by piece; closing the iterator aborts it
    on the server. ``keep`` appends a chunk's ids to the branch (what a resume starts from,
    and what a probe reads)."""

    def open(self, branch: BranchState, max_tokens: int) -> AsyncIterator[Piece]: ...

    def keep(self, branch: BranchState, ids: Sequence[int]) -> None: ...


@dataclass(frozen=True, slots=True)
class Step:
    """A branch reached its next chunk boundary (or its end, or failed); with the probe at
    that boundary when the step asked for one."""

    branch: BranchState
    chunk: Chunk | BackendError
    probe: ProbeResult | BackendError | None = None


@dataclass(frozen=True, slots=True)
class Probed:
    """A probe, run beside its branch's stream, came back."""

    branch: BranchState
    result: ProbeResult | BackendError


class Streams(Protocol):
    """The streamed engine's seam: branches advance independently and report each boundary.

    ``advance`` lets a branch generate its next ``tokens`` tokens (resuming its stream if it
    was paused or never started); the boundary arrives as a ``Step`` from ``events``.
    ``pause`` and ``stop`` abort a branch's stream and return the tokens it generated that no
    step reported (they were spent all the same).
    """

    def advance(self, branch: BranchState, tokens: int, limit: int, *, probe: bool) -> None: ...

    def probe(self, branch: BranchState) -> None: ...

    def pause(self, branch: BranchState) -> int: ...

    def stop(self, branch: BranchState) -> int: ...

    async def events(self) -> list[Step | Probed]:
        """Wait for the next event; return it with every other that arrived together."""

    async def close(self) -> int: ...


class Passthrough(Protocol):
    """A backend response forwarded as-is."""

    status_code: int
    media_type: str

    def body(self) -> AsyncIterator[bytes]: ...


class ModelServer(Protocol):
    """What the HTTP service needs from a live model server (``VLLMBackend``, or a test fake)."""

    observer: Callable[[str, bool], None] | None  # told of every call: (kind, succeeded)

    @property
    def calls(self) -> int:
        """Calls made to the model server so far."""

    async def health(self) -> bool: ...

    async def models(self) -> list[dict[str, Any]]: ...

    async def max_model_len(self, model: str) -> int | None: ...

    async def tokenize(
        self,
        model: str,
        *,
        prompt: str | None = None,
        messages: Any = None,
        add_special_tokens: bool = True,
        tools: Sequence[Mapping[str, Any]] = (),
    ) -> list[int]: ...

    async def passthrough(self, path: str, body: bytes, model: str) -> Passthrough:
        """Forward a request body's bytes as they are (``model`` routes it)."""

    def episode(
        self, model: str, prompt_ids: list[int], sampling: Sampling, session: str = ""
    ) -> Episode:
        """One search's connection; ``session`` names it in the affinity key of its calls."""

    async def close(self) -> None: ...
