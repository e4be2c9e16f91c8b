"""Confidence Momentum Controller (AutoTTS, Appendix D, on its published schedule).

Only completed branches vote. Each decision:

- confidence = the Beta-posterior probability that the leading answer beats the runner-up,
  P(p1 > p2) with p1 / (p1 + p2) ~ Beta(v1 + 1, v2 + 1) over their votes; an exponential
  moving average (EMA) of it is kept, and its change over the last ``window`` decisions;
- stop only after ``warmup`` decisions, with at least ``min_pool`` completed answers, when the
  EMA has reached ``tau`` and has not fallen by more than ``slack`` over the window;
- widen (start ``widen_by`` more branches, up to ``max_width``) when that change has stalled
  within ``stall`` below ``tau`` -- more of the same evidence is not moving confidence;
- after the warm-up, a branch whose last ``abandon_patience`` answering probes all disagree
  with the completed answers' leader is abandoned, so a persistent dissenter never votes (at
  least two branches are always kept alive). A probe that reads no answer yet is no dissent:
  a thinking model's early probes mostly read nothing, and counting them abandons branches
  before they have said anything;
- depth: branches aligned with the leader continue every decision, the others every ``lag``.

Every setting is a ``Ramp`` (a smooth monotone function of beta), declared once in
``SETTINGS`` (the class's ``schedule``) with the way it spends and its search range: more beta
means a wider start, a higher, slower stop bar and more patience -- never less spend.
``max_width`` counts branches: its ramp is for 64, scaled to the request's width (at 8, it
runs from 1 to 8); the start is capped by it. Discovery's parameter search
(``tts_proxy.discovery.families``) and the controller documents it ships read the same table.

Beyond the paper: ``stable_probes`` = k > 0 lets a running branch whose last k probes agree
vote with that answer, as if it had finished (0, the built-in's value, is off). With one branch
and k = 2 this is probe-and-exit, so the family spans the cheap end too.

What separates this schedule from the paper's prose (measured on the shared AIME24 files,
``docs/discovery.md``): counting no-answer probes as dissent cost about 1.7 points at beta 0.5;
depth bursts for the leader's branches cost about half a point; the posterior confidence and
the leader's share score the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import ClassVar

from tts_proxy.actions import Action, Answer, Branch, Continue, Prune, continue_and_probe
from tts_proxy.controllers.asc import leader_probability
from tts_proxy.controllers.base import Controller, Limits, Ramp, Setting, unprobed
from tts_proxy.controllers.probe_exit import agreeing_tail
from tts_proxy.state import BranchState, View

SETTINGS: dict[str, Setting] = {
    "initial_width": Setting(Ramp(2, 8), 1, 1, 16, integer=True, geometric=True),
    "max_width": Setting(Ramp(4, 64), 1, 1, 64, integer=True, geometric=True, per_width=True),
    "widen_by": Setting(Ramp(1, 4), 1, 1, 8, integer=True, geometric=True),
    "tau": Setting(Ramp(0.85, 0.97), 1, 0.5, 0.995),
    "min_pool": Setting(Ramp(2, 5), 1, 1, 12, integer=True, geometric=True),
    "alpha": Setting(Ramp(0.7, 0.3), -1, 0.1, 0.9),
    "window": Setting(Ramp(2, 8), 1, 1, 12, integer=True, geometric=True),
    "slack": Setting(Ramp(0.04, 0.01), -1, 0.0, 0.1),
    "warmup": Setting(Ramp(2, 10), 1, 1, 16, integer=True, geometric=True),
    "stall": Setting(Ramp(0.04, 0.04), 0, 0.0, 0.1),
    "abandon_patience": Setting(Ramp(3, 12), 1, 2, 64, integer=True, geometric=True),
    "lag": Setting(Ramp(1, 1), -1, 1, 3, integer=True),
    "stable_probes": Setting(Ramp(0, 0), 1, 2, 32, integer=True, geometric=True, optional=True),
}


@dataclass(frozen=True, slots=True)
class CMCSettings:
    """The settings at one beta (integers rounded, widths capped by the request's)."""

    initial_width: int
    max_width: int
    widen_by: int
    tau: float
    min_pool: int
    alpha: float
    window: int
    slack: float
    warmup: int
    stall: float
    abandon_patience: int
    lag: int
    stable_probes: int

    @classmethod
    def of(cls, values: dict[str, float], limits: Limits) -> CMCSettings:
        """Resolved values, typed, with the widths capped by the request's (the first width
        by the largest one too)."""
        out: dict[str, float | int] = {
            f.name: int(values[f.name]) if SETTINGS[f.name].integer else values[f.name]
            for f in fields(cls)
        }
        out["max_width"] = min(limits.max_branches, int(out["max_width"]))
        out["initial_width"] = min(int(out["max_width"]), int(out["initial_width"]))
        return cls(**out)  # type: ignore[arg-type]

    @classmethod
    def from_beta(cls, beta: float, limits: Limits) -> CMCSettings:
        """The built-in CMC's settings."""
        return ConfidenceMomentum(beta, limits).settings


def dissents_for(branch: BranchState, leader: str, probes: int) -> bool:
    """Whether the branch's last ``probes`` probes all read an answer, and none ``leader``."""
    history = branch.probes
    if len(history) < probes:
        return False
    return all(p.key is not None and p.key != leader for p in history[-probes:])


def confidence(votes: Counter[str]) -> float:
    """P(leader beats runner-up) under a Beta posterior over their votes (0: no votes)."""
    top = votes.most_common(2)
    if not top:
        return 0.0
    return leader_probability(top[0][1], top[1][1] if len(top) > 1 else 0)


class ConfidenceMomentum(Controller, decides_by_settings=True):
    name = "cmc"
    schedule: ClassVar[dict[str, Setting]] = SETTINGS
    ramps: ClassVar[dict[str, Ramp]] = {name: s.ramp for name, s in SETTINGS.items()}

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.settings = CMCSettings.of(self.values, self.limits)
        self.emas: list[float] = []  # the EMA after each decision
        self._steps = 0  # decisions past the first branches (probe rounds not counted)

    def effective_settings(self) -> dict[str, float]:
        values = asdict(self.settings)
        if not values["stable_probes"]:
            del values["stable_probes"]
        return {k: round(v, 4) for k, v in values.items()}

    def _votes(self, view: View) -> Counter[str]:
        """Completed answers, and (``stable_probes``) running branches' agreeing probes."""
        votes = view.final_votes()
        k = self.settings.stable_probes
        if k:
            agreed = [agreeing_tail(b, k) for b in view.branches if b.active]
            votes = votes + Counter(p.key for p in agreed if p is not None and p.key is not None)
        return votes

    def _momentum(self, votes: Counter[str]) -> tuple[float, float]:
        """Fold this decision's confidence into the EMA; return it and its change over the
        window (0 until the window has filled)."""
        alpha = self.settings.alpha
        now = confidence(votes)
        ema = now if not self.emas else alpha * now + (1 - alpha) * self.emas[-1]
        self.emas.append(ema)
        w = self.settings.window
        return ema, (ema - self.emas[-1 - w] if len(self.emas) > w else 0.0)

    def decide(self, view: View) -> Sequence[Action]:
        s = self.settings
        if not view.branches:
            return [Branch(s.initial_width, probe=True)]
        probes = unprobed(view)
        if probes:
            return probes
        self._steps += 1
        votes = self._votes(view)
        ema, change = self._momentum(votes)
        warm = self._steps >= s.warmup
        pool = sum(votes.values())
        if warm and pool >= s.min_pool and ema >= s.tau and change >= -s.slack:
            return [Answer()]
        active = view.active
        if not active and view.can_branch <= 0:
            return [Answer()]
        leader = votes.most_common(1)[0][0] if votes else None
        actions: list[Action] = self._abandon(view, leader) if warm and leader else []
        pruned = {a.branch for a in actions if isinstance(a, Prune)}

        width = len(view.branches)
        running = len(active) - len(pruned)
        stalled = len(self.emas) > 1 and abs(change) <= s.stall and ema < s.tau
        if (stalled or running == 0) and width < s.max_width and view.can_branch > 0:
            actions.append(
                Branch(min(s.widen_by, s.max_width - width, view.can_branch), probe=True)
            )
        actions += self._depth(view, leader, pruned)
        if not any(isinstance(a, Continue | Branch) for a in actions):
            actions += [continue_and_probe(b.id) for b in active if b.id not in pruned]
        return actions or [Answer()]

    def _abandon(self, view: View, leader: str) -> list[Action]:
        """Prunes of persistent dissenters, keeping at least two branches alive."""
        alive = sum(1 for b in view.branches if not b.pruned)
        prunes: list[Action] = []
        for b in view.active:
            if alive <= 2:
                break
            if dissents_for(b, leader, self.settings.abandon_patience):
                prunes.append(Prune(b.id))
                alive -= 1
        return prunes

    def _depth(self, view: View, leader: str | None, pruned: set[int]) -> list[Action]:
        """Leader-aligned branches continue every decision, the others every ``lag``."""
        if leader is None:  # nothing completed yet: follow what the probes say
            probe_votes = view.current_votes()
            leader = probe_votes.most_common(1)[0][0] if probe_votes else None
        everyone = leader is None or self._steps % self.settings.lag == 0
        return [
            continue_and_probe(b.id)
            for b in view.active
            if b.id not in pruned and (everyone or b.current_key == leader)
        ]
