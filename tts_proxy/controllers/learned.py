"""A learned stopping rule: a logistic model of the search state says how likely answering
now gives the answer the whole pool would; beta sets the probability it must reach.

After every live branch is probed, the state is summed up in ``FEATURES`` (the completed
answers' leader share and Beta-posterior confidence, how many finished, the probes' share for
the leader, the longest run of probes agreeing with it, depth, tokens spent, and an EMA of the
confidence). The rule answers once ``p >= threshold`` (a ramp of beta: more beta, a higher
bar) with at least ``min_pool`` completed answers; it widens by ``widen_by`` (up to
``max_width``) while ``p`` is below the bar and did not rise since the last decision, and
otherwise continues every live branch with a probe.

The weights are plain numbers (``LinearRule``): ``tts-proxy discover`` fits them on its search
set with scikit-learn (``tts_proxy.discovery.learning``) and ships them in a controller
document, which the gate checks like any other. The built-in's own rule is untrained: it
reads only the posterior confidence (``p = sigmoid(8 c - 4)``).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from tts_proxy.actions import Action, Answer, Branch, continue_and_probe
from tts_proxy.controllers.base import Controller, Limits, Ramp, Setting, unprobed
from tts_proxy.controllers.cmc import confidence
from tts_proxy.state import BranchState, View

FEATURES = (
    "leader_share", "posterior", "finished", "probe_share", "streak", "depth", "tokens", "ema",
)  # fmt: skip
EMA_ALPHA = 0.5


@dataclass(frozen=True, slots=True)
class LinearRule:
    """A logistic model over standardised features: p = sigmoid(w . (x - mean) / scale + b)."""

    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]

    def probability(self, x: Sequence[float]) -> float:
        z = self.bias + sum(
            w * (v - m) / s
            for w, v, m, s in zip(self.weights, x, self.mean, self.scale, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


UNTRAINED = LinearRule(
    weights=tuple(8.0 if f == "posterior" else 0.0 for f in FEATURES),
    bias=-4.0,
    mean=tuple(0.0 for _ in FEATURES),
    scale=tuple(1.0 for _ in FEATURES),
)


def _streak(branch: BranchState, leader: str) -> int:
    run = 0
    for p in reversed(branch.probes):
        if p.key != leader:
            break
        run += 1
    return run


def features(view: View, ema: float | None) -> tuple[float, ...]:
    """The state, in ``FEATURES`` order (``ema``: the last decision's, None at the first)."""
    votes = view.final_votes()
    pool = sum(votes.values())
    leader = votes.most_common(1)[0] if votes else None
    current = view.current_votes()
    lead = leader[0] if leader else (current.most_common(1)[0][0] if current else None)
    running = [b for b in view.branches if b.active]
    probe_share = (
        sum(1 for b in running if b.current_key == lead) / len(running) if running else 0.0
    )
    streak = max((_streak(b, lead) for b in running), default=0) if lead else 0
    posterior = confidence(votes)
    depth = sum(b.depth for b in running) / len(running) if running else 0.0
    return (
        leader[1] / pool if leader else 0.0,
        posterior,
        math.log1p(pool),
        probe_share,
        math.log1p(streak),
        math.log1p(depth),
        math.log1p(view.tokens_used / 1000),
        posterior if ema is None else EMA_ALPHA * posterior + (1 - EMA_ALPHA) * ema,
    )


class LearnedStop(Controller, decides_by_settings=True):
    name = "learned"
    schedule: ClassVar[dict[str, Setting]] = {
        "threshold": Setting(Ramp(0.6, 0.99), 1, 0.3, 0.999),
        "initial_width": Setting(Ramp(2, 8), 1, 1, 16, integer=True, geometric=True),
        "max_width": Setting(Ramp(4, 64), 1, 1, 64, integer=True, geometric=True, per_width=True),
        "widen_by": Setting(Ramp(1, 4), 1, 1, 8, integer=True, geometric=True),
        "min_pool": Setting(Ramp(1, 3), 1, 1, 12, integer=True, geometric=True),
    }
    rule: ClassVar[LinearRule] = UNTRAINED

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.max_width = min(self.limits.max_branches, int(self.value("max_width")))
        self.ema: float | None = None
        self.last: float | None = None  # p at the last decision

    @classmethod
    def replay_key(cls, beta: float, limits: Limits) -> Hashable | None:
        key = super().replay_key(beta, limits)
        return None if key is None else (key, cls.rule)  # the rule decides too

    def stop_probability(self, view: View) -> float:
        """p for this decision (and the EMA moves on: call once per decision)."""
        x = features(view, self.ema)
        self.ema = x[FEATURES.index("ema")]
        return self.rule.probability(x)

    def decide(self, view: View) -> Sequence[Action]:
        if not view.branches:
            return [Branch(min(self.max_width, int(self.value("initial_width"))), probe=True)]
        probes = unprobed(view)
        if probes:
            return probes
        p = self.stop_probability(view)
        bar = self.value("threshold")
        finished = sum(1 for b in view.branches if b.finished)
        if finished >= self.value("min_pool") and p >= bar:
            return [Answer()]
        active = view.active
        stalled = self.last is not None and p <= self.last and p < bar
        self.last = p
        actions: list[Action] = []
        width = len(view.branches)
        if (stalled or not active) and width < self.max_width and view.can_branch > 0:
            more = min(int(self.value("widen_by")), self.max_width - width, view.can_branch)
            actions.append(Branch(more, probe=True))
        actions += [continue_and_probe(b.id) for b in active]
        return actions or [Answer()]
