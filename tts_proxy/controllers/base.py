"""The controller interface: constructed with beta and the request's limits, one decision method."""

from __future__ import annotations

import abc
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from tts_proxy.actions import Action, Probe
from tts_proxy.state import View, majority


@dataclass(frozen=True, slots=True)
class Limits:
    """What a search may spend. ``budget`` is total tokens (branches + probes), None = unbounded."""

    max_branches: int = 8
    budget: int | None = None
    chunk_tokens: int = 256
    max_branch_tokens: int | None = None


class Controller(abc.ABC):
    """A test-time-scaling policy. Pure: no I/O, no clock, randomness only from ``rng``.

    Subclasses set ``name`` and implement ``decide``; every internal setting must be a
    monotone function of ``beta`` (more beta never spends less).
    """

    name: ClassVar[str] = ""
    # True when every branch runs to its end in one request (no chunk-by-chunk reading, no
    # probes): then per-request constraints (structured output, penalties) hold branch-wide.
    whole_branches: ClassVar[bool] = False
    # True when it reads branches' token confidence (DeepConf): the search then asks the
    # model server for top-k logprobs of every branch token (a throughput cost).
    wants_confidence: ClassVar[bool] = False

    def __init__(self, beta: float, limits: Limits, rng: random.Random | None = None) -> None:
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f"beta must be in [0, 1], got {beta}")
        self.beta = beta
        self.limits = limits
        self.rng = rng or random.Random(0)

    @abc.abstractmethod
    def decide(self, view: View) -> Sequence[Action]:
        """The actions to run this round, all at once."""

    def aggregate(self, view: View) -> str | None:
        """The answer when the search ends without an explicit one: majority vote."""
        return majority_answer(view)

    # The engine calls these: a controller served from the sandbox (``remote``) answers over
    # a pipe, and the event loop must not wait on it. In-process controllers need not care.

    async def adecide(self, view: View) -> Sequence[Action]:
        """``decide``, awaited."""
        return self.decide(view)

    async def aaggregate(self, view: View) -> str | None:
        """``aggregate``, awaited."""
        return self.aggregate(view)

    async def finish(self) -> None:
        """Called once when the search has ended, however it ended."""
        return None


def majority_answer(view: View) -> str | None:
    """Majority of the finished branches' answers, else of every branch's latest probe."""
    finals = [(b.answer, b.key) for b in view.branches if b.finished and b.answer is not None]
    return majority(finals or [(b.current_answer, b.current_key) for b in view.branches])


def unprobed(view: View) -> list[Probe]:
    """Probes for every running branch not yet probed at its depth (probe-then-decide rounds)."""
    return [Probe(b.id) for b in view.branches if b.active and b.depth and not b.probed_at_depth]


def interpolate(lo: float, hi: float, beta: float) -> float:
    """Linear map of beta in [0, 1] onto [lo, hi]."""
    return lo + (hi - lo) * beta


def geometric(lo: float, hi: float, beta: float) -> float:
    """Geometric map of beta onto [lo, hi] (both > 0): equal beta steps multiply the setting."""
    return float(lo * (hi / lo) ** beta)


@dataclass(frozen=True, slots=True)
class Ramp:
    """A setting as a smooth monotone function of beta: ``lo`` at beta 0, ``hi`` at beta 1.

    ``geometric`` ramps multiply by equal factors per beta step (both ends must be > 0).
    Whether ``hi >= lo`` or ``hi <= lo`` spends more depends on the setting; each controller
    that uses ramps says which way is "more spend" for each. The change may be confined to
    ``[onset, until]``: ``lo`` below it, ``hi`` above it (a knee, still monotone).
    """

    lo: float
    hi: float
    geometric: bool = False
    onset: float = 0.0
    until: float = 1.0

    def at(self, beta: float) -> float:
        span = self.until - self.onset
        t = 1.0 if span <= 0 else min(1.0, max(0.0, (beta - self.onset) / span))
        if self.geometric:
            return geometric(self.lo, self.hi, t)
        return interpolate(self.lo, self.hi, t)
