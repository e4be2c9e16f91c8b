"""The five actions a controller can take (frozen, so a decision cannot change after the fact)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Branch:
    """Start ``n`` new sampled branches; each generates its first chunk this round."""

    n: int = 1


@dataclass(frozen=True, slots=True)
class Continue:
    """Generate one more chunk of branch ``branch``."""

    branch: int


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
