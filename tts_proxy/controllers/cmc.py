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

Every setting is a smooth monotone function of beta (``CMCSettings.from_beta``): more beta
means a wider start, a higher stop bar, a larger pool before stopping, more width allowed and
more patience -- never less spend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tts_proxy.actions import Action, Answer, Branch, Continue, Prune
from tts_proxy.answers import answer_key
from tts_proxy.controllers.base import Controller, Limits, geometric, interpolate, unprobed
from tts_proxy.controllers.parallel_probe import disagrees_for
from tts_proxy.state import View


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

    @classmethod
    def from_beta(cls, beta: float, limits: Limits) -> CMCSettings:
        cap = limits.max_branches
        return cls(
            initial_width=min(cap, round(interpolate(4, 10, beta))),
            max_width=min(cap, round(geometric(8, 48, beta))),
            widen_by=round(interpolate(2, 6, beta)),
            tau=interpolate(0.60, 0.85, beta),
            min_pool=round(interpolate(3, 10, beta)),
            alpha=0.5,
            stall=0.02,
            abandon_patience=round(geometric(12, 48, beta)),
            lag=2,
        )


class ConfidenceMomentum(Controller):
    name = "cmc"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.settings = CMCSettings.from_beta(self.beta, self.limits)
        self.ema: float | None = None
        self.trend = 0.0
        self._pool_seen = 0
        self._steps = 0  # continue rounds so far (probe rounds interleave)

    def _update_momentum(self, view: View) -> tuple[str | None, int]:
        """Fold the completed-answer pool into the EMA when it has grown; return leader, size."""
        votes = view.final_votes()
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
            return [Branch(s.initial_width)]
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
            actions.append(Branch(min(s.widen_by, s.max_width - width, view.can_branch)))

        self._steps += 1
        if leader is None:  # nothing finished yet: depth bursts follow what the probes say
            probe_votes = view.current_votes()
            leader = probe_votes.most_common(1)[0][0] if probe_votes else None
        for b in active:
            if b.id in pruned:
                continue
            current = b.current_answer
            aligned = leader is not None and current is not None and answer_key(current) == leader
            if aligned or leader is None or self._steps % s.lag == 0:
                actions.append(Continue(b.id))
        if not any(isinstance(a, Continue | Branch) for a in actions):
            actions += [Continue(b.id) for b in active if b.id not in pruned]
        return actions or [Answer()]
