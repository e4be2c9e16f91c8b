"""The five actions a controller can take (frozen, so a decision cannot change after the fact)."""

from __future__ import annotations

import functools
from dataclasses import dataclass


def _flags(to_end: bool, probe: bool) -> str:
    """The options an extension was given, as logged in traces (only those set)."""
    return (", to_end=True" if to_end else "") + (", probe=True" if probe else "")


@dataclass(frozen=True, slots=True)
class Branch:
    """Start ``n`` new sampled branches; each generates its first chunk this round.

    ``to_end``: each runs until it finishes, hits its length cap or the budget, in one call --
    for controllers that do not look at a branch before it is done (fewer round trips live,
    far fewer rounds in replay).
    ``probe``: each unfinished one is then probed at its new depth, in the same round -- for
    controllers that probe after every chunk (one round per step instead of two).
    """

    n: int = 1
    to_end: bool = False
    probe: bool = False

    def __repr__(self) -> str:
        return f"Branch(n={self.n}{_flags(self.to_end, self.probe)})"


@dataclass(frozen=True, slots=True)
class Continue:
    """Generate one more chunk of branch ``branch`` (``to_end``, ``probe``: as for Branch)."""

    branch: int
    to_end: bool = False
    probe: bool = False

    def __repr__(self) -> str:
        return f"Continue(branch={self.branch}{_flags(self.to_end, self.probe)})"


@functools.lru_cache(maxsize=1024)
def continue_and_probe(branch: int) -> Continue:
    """``Continue(branch, probe=True)``, the step probing controllers ask for every round, made
    once per branch: actions are frozen, so one object serves every round of every search
    (replay asks for millions; building them was a tenth of a ``cmc`` replay)."""
    return Continue(branch, probe=True)


@dataclass(frozen=True, slots=True)
class Probe:
    """Ask branch ``branch`` for the answer it would give now (once per depth)."""

    branch: int


@dataclass(frozen=True, slots=True)
class Prune:
    """Stop branch ``branch`` for good."""

    branch: int


@dataclass(frozen=True, slots=True)
class Answer:
    """End the search. ``answer=None`` lets the controller's aggregation pick it."""

    answer: str | None = None


Action = Branch | Continue | Probe | Prune | Answer
