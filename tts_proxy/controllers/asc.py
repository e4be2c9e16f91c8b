"""Adaptive-consistency (Aggarwal et al. 2023): add branches one by one until a Beta
posterior says the leading answer beats the runner-up with probability >= threshold.

With v1 votes for the leader and v2 for the runner-up, the stopping statistic is
P(p1 > p2) for (p1/(p1+p2)) ~ Beta(v1 + 1, v2 + 1). beta maps the threshold smoothly:
1 - threshold = 0.2 * 0.25^(2 beta), i.e. 0.80 at beta 0, 0.95 at beta 0.5, 0.9875 at beta 1.
Branches run one at a time, as in the paper, so no sample is wasted.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb
from typing import ClassVar

from tts_proxy.actions import Action, Answer, Branch, Continue
from tts_proxy.controllers.base import Controller, Ramp, Setting
from tts_proxy.state import View


def leader_probability(v1: int, v2: int) -> float:
    """P(X > 1/2) for X ~ Beta(v1 + 1, v2 + 1), exactly (integer parameters)."""
    a, b = v1 + 1, v2 + 1
    n = a + b - 1
    # For integer a, b: P(X <= x) = P(Binomial(a + b - 1, x) >= a).
    return float(sum(comb(n, k) for k in range(a)) / 2**n)


class AdaptiveConsistency(Controller, decides_by_settings=True):
    name = "asc"
    whole_branches = True
    # The chance left that the leader is not ahead: 0.2 * 0.25^(2 beta), geometric.
    schedule: ClassVar[dict[str, Setting]] = {
        "risk": Setting(Ramp(0.2, 0.0125, geometric=True), -1, 0.001, 0.5, geometric=True),
    }

    @property
    def threshold(self) -> float:
        return 1.0 - self.value("risk")

    def decide(self, view: View) -> Sequence[Action]:
        if view.branches and view.branches[-1].active:  # one at a time: only the last runs
            return [Continue(view.branches[-1].id, to_end=True)]
        counts = view.final_votes().most_common(2)
        if counts:
            v1 = counts[0][1]
            v2 = counts[1][1] if len(counts) > 1 else 0
            if leader_probability(v1, v2) >= self.threshold:
                return [Answer()]
        if view.can_branch > 0:
            return [Branch(1, to_end=True)]
        return [Answer()]
