"""The seam between the engine and a model: one ``Episode`` per search.

An episode holds whatever a backend needs per branch (token ids for vLLM, a recorded
trajectory for replay); the engine only sees chunk and probe results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tts_proxy.state import BranchState


@dataclass(frozen=True, slots=True)
class Chunk:
    """What one CONTINUE (or the first chunk of a BRANCH) produced."""

    tokens: int
    text: str = ""
    finished: bool = False
    finish_reason: str | None = None
    answer: str | None = None  # the final answer, when the backend knows it (replay)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    answer: str | None
    tokens: int = 0
    confidence: float | None = None
    text: str = ""


class Episode(Protocol):
    """One search's connection to a model.

    ``extend`` gets branches with the number of tokens each may generate now (a branch at
    depth 0 is new); results come back in the same order. Calls in a list run concurrently.
    """

    max_branches: int | None

    async def extend(self, requests: Sequence[tuple[BranchState, int]]) -> Sequence[Chunk]: ...

    async def probe(self, branches: Sequence[BranchState]) -> Sequence[ProbeResult]: ...

    async def release(self, branches: Sequence[BranchState]) -> None: ...
