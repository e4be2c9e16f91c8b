"""Confidence Momentum Controller (AutoTTS, Appendix D).

The answer pool is every live branch's current answer: the final answer of a finished branch,
the latest probe of a running one. Each round:

- confidence = the leader's share of the pool; an exponential moving average (EMA) of it is
  kept, and its trend is the EMA's change since the last round;
- stop only when the EMA is high *and* not falling (EMA >= tau and trend >= 0) and the pool is
  large enough;
- widen (start more branches) when the EMA trend stalls below tau -- more of the same
  evidence is not moving confidence, so new samples are needed;
- depth bursts: branches aligned with the current leader continue every round, the others
  only every ``lag`` rounds, so the likely answer is confirmed first;
- a branch is abandoned only after disagreeing with the leader for ``abandon_patience``
  consecutive probes, and at least two branches are always kept alive.

Every setting is a ``Ramp`` -- a smooth monotone function of beta -- in ``ConfidenceMomentum.
ramps``: more beta means a wider start, a higher stop bar, a larger pool before stopping, more
width allowed and more patience -- never less spend. Subclasses (discovery writes them) change
only the ramps; ``SPEND`` says, for each setting, which way spends more.

One setting goes beyond the paper: ``stable_probes`` = k > 0 lets a running branch whose last
k probes agree vote with that answer, as if it had finished (0, the built-in's value, is off).
With one branch and k = 2 this is probe-and-exit, so the family spans the cheap end too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import ClassVar

from tts_proxy.actions import Action, Answer, Branch, Continue, Prune
from tts_proxy.controllers.base import Controller, Limits, Ramp, unprobed
from tts_proxy.controllers.parallel_probe import disagrees_for
from tts_proxy.controllers.probe_exit import agreeing_tail
from tts_proxy.state import View

# +1: a larger value spends more; -1: a larger value spends less; 0: neither (fixed).
SPEND: dict[str, int] = {
    "initial_width": 1,
    "max_width": 1,
    "widen_by": 1,
    "tau": 1,
    "min_pool": 1,
    "alpha": 0,
    "stall": 1,
    "abandon_patience": 1,
    "lag": -1,
    "stable_probes": 1,
}
_INTEGER_SETTINGS = {
    "initial_width", "max_width", "widen_by", "min_pool", "abandon_patience", "lag",
    "stable_probes",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class CMCSettings:
    initial_width: int
    max_width: int
    widen_by: int
    tau: float
    min_pool: int
    alpha: float
    stall: float
    abandon_patience: int
    lag: int
    stable_probes: int

    @classmethod
    def from_ramps(cls, ramps: dict[str, Ramp], beta: float, limits: Limits) -> CMCSettings:
        values: dict[str, float | int] = {}
        for f in fields(cls):
            value = ramps[f.name].at(beta)
            values[f.name] = max(1, round(value)) if f.name in _INTEGER_SETTINGS else value
        cap = limits.max_branches
        values["initial_width"] = min(cap, int(values["initial_width"]))
        values["max_width"] = min(cap, int(values["max_width"]))
        if ramps["stable_probes"].hi <= 0:  # off at every beta
            values["stable_probes"] = 0
        return cls(**values)  # type: ignore[arg-type]

    @classmethod
    def from_beta(cls, beta: float, limits: Limits) -> CMCSettings:
        """The built-in CMC's settings."""
        return cls.from_ramps(ConfidenceMomentum.ramps, beta, limits)


class ConfidenceMomentum(Controller):
    name = "cmc"
    ramps: ClassVar[dict[str, Ramp]] = {
        "initial_width": Ramp(4, 10),
        "max_width": Ramp(8, 48, geometric=True),
        "widen_by": Ramp(2, 6),
        "tau": Ramp(0.60, 0.85),
        "min_pool": Ramp(3, 10),
        "alpha": Ramp(0.5, 0.5),
        "stall": Ramp(0.02, 0.02),
        "abandon_patience": Ramp(12, 48, geometric=True),
        "lag": Ramp(2, 2),
        "stable_probes": Ramp(0, 0),
    }

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.settings = CMCSettings.from_ramps(self.ramps, self.beta, self.limits)
        self.ema: float | None = None
        self.trend = 0.0
        self._pool_seen = 0
        self._steps = 0  # continue rounds so far (probe rounds interleave)

    def _update_momentum(self, view: View) -> tuple[str | None, int]:
        """Fold the completed-answer pool into the EMA when it has grown; return leader, size."""
        votes = view.final_votes()
        k = self.settings.stable_probes
        if k:
            agreed = [agreeing_tail(b, k) for b in view.branches if b.active]
            votes = votes + Counter(p.key for p in agreed if p is not None and p.key is not None)
        pool = sum(votes.values())
        if pool and pool != self._pool_seen:
            confidence = votes.most_common(1)[0][1] / pool
            previous = self.ema
            alpha = self.settings.alpha
            self.ema = (
                confidence if previous is None else alpha * confidence + (1 - alpha) * previous
            )
            self.trend = 0.0 if previous is None else self.ema - previous
            self._pool_seen = pool
        return (votes.most_common(1)[0][0] if votes else None), pool

    def decide(self, view: View) -> Sequence[Action]:
        s = self.settings
        if not view.branches:
            return [Branch(s.initial_width, probe=True)]
        active = view.active
        probes = unprobed(view)
        if probes:
            return probes

        leader, pool = self._update_momentum(view)
        ema = self.ema or 0.0
        if pool >= s.min_pool and ema >= s.tau and self.trend >= 0:
            return [Answer()]
        if not active and view.can_branch <= 0:
            return [Answer()]
        actions: list[Action] = []
        alive = [b for b in view.branches if not b.pruned]
        # Early probes are unreliable (a thinking model's first guesses): only a leader from
        # completed answers may condemn a branch.
        if leader is not None:
            for b in active:
                if len(alive) <= 2:
                    break
                if disagrees_for(b, leader, s.abandon_patience):
                    actions.append(Prune(b.id))
                    alive.remove(b)
        pruned = {a.branch for a in actions if isinstance(a, Prune)}

        width = len(view.branches)
        running = len(active) - len(pruned)
        stalled = pool > 0 and abs(self.trend) < s.stall and ema < s.tau
        if (stalled or running == 0) and width < s.max_width and view.can_branch > 0:
            actions.append(
                Branch(min(s.widen_by, s.max_width - width, view.can_branch), probe=True)
            )

        self._steps += 1
        if leader is None:  # nothing finished yet: depth bursts follow what the probes say
            probe_votes = view.current_votes()
            leader = probe_votes.most_common(1)[0][0] if probe_votes else None
        everyone = leader is None or self._steps % s.lag == 0
        for b in active:
            if b.id in pruned:
                continue
            current = b.current_key
            if everyone or (current is not None and current == leader):
                actions.append(Continue(b.id, probe=True))
        if not any(isinstance(a, Continue | Branch) for a in actions):
            actions += [Continue(b.id, probe=True) for b in active if b.id not in pruned]
        return actions or [Answer()]
