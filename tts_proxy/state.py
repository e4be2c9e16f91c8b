"""Search state as the engine keeps it, and the read-only view a controller decides on."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from tts_proxy.answers import answer_key


@dataclass(frozen=True, slots=True)
class ProbeRecord:
    """One probe of a branch at ``depth`` chunks: the answer read (None if none) and its cost."""

    depth: int
    answer: str | None
    tokens: int = 0
    confidence: float | None = None
    text: str = ""


@dataclass(slots=True, eq=False)
class BranchState:
    """One sampled reasoning path. The engine mutates it; controllers only read it."""

    id: int
    depth: int = 0
    tokens: int = 0
    finished: bool = False
    pruned: bool = False
    finish_reason: str | None = None
    answer: str | None = None  # the final answer, once finished
    probes: list[ProbeRecord] = field(default_factory=list)
    text: str = ""
    active: bool = True  # neither finished nor pruned; kept by the engine (read in hot loops)

    @property
    def last_probe(self) -> ProbeRecord | None:
        return self.probes[-1] if self.probes else None

    @property
    def probed_at_depth(self) -> bool:
        return bool(self.probes) and self.probes[-1].depth == self.depth

    @property
    def current_answer(self) -> str | None:
        """The final answer if finished, else the most recent probe's answer."""
        if self.finished:
            return self.answer
        return self.probes[-1].answer if self.probes else None


class View(NamedTuple):
    """What a controller may see: branches, spend, budget and round. Never the future.

    A NamedTuple: immutable like a frozen dataclass, and cheap to build every round.
    """

    branches: Sequence[BranchState]
    round: int
    tokens_used: int
    budget: int | None
    max_branches: int

    @property
    def budget_left(self) -> float:
        return float("inf") if self.budget is None else self.budget - self.tokens_used

    @property
    def active(self) -> list[BranchState]:
        return [b for b in self.branches if b.active]

    @property
    def finished(self) -> list[BranchState]:
        return [b for b in self.branches if b.finished]

    @property
    def can_branch(self) -> int:
        """How many more branches may be started."""
        return self.max_branches - len(self.branches)

    def votes(self, answers: Sequence[str | None]) -> Counter[str]:
        """Count answers by math-aware equivalence class (None is no vote)."""
        return vote_counts(answers)

    def final_votes(self) -> Counter[str]:
        return vote_counts([b.answer for b in self.branches if b.finished])

    def current_votes(self) -> Counter[str]:
        """Votes of every branch's current answer: finals, and latest probes of the rest."""
        return vote_counts([b.current_answer for b in self.branches if not b.pruned])


def vote_counts(answers: Sequence[str | None]) -> Counter[str]:
    """Votes keyed by canonical answer; insertion order breaks ties (first seen wins)."""
    counts: Counter[str] = Counter()
    for a in answers:
        if a is not None:
            counts[answer_key(a)] += 1
    return counts
