"""Parallel-Probe: a fixed cohort runs in lock-step, every branch is probed after every chunk;
the search stops on cross-branch consensus (a large enough share of the cohort's current
answers agree), and branches that keep deviating from the consensus are pruned.

beta maps: cohort N = round(4 + 12 beta) (4..16), consensus share 0.5 + 0.4 beta,
the depth before the first stop min_depth = round(2 + 6 beta), and deviants are pruned after
disagreeing for patience = round(2 + 4 beta) consecutive probes (at most half the cohort).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from tts_proxy.actions import Action, Answer, Branch, Prune, continue_and_probe
from tts_proxy.controllers.base import Controller, Ramp, Setting, unprobed
from tts_proxy.state import BranchState, View


def disagrees_for(branch: BranchState, leader: str, probes: int) -> bool:
    """Whether the branch's last ``probes`` probes all failed to give ``leader``."""
    history = branch.probes
    if len(history) < probes:
        return False
    return all(p.key != leader for p in history[-probes:])


class ParallelProbe(Controller, decides_by_settings=True):
    name = "parallel_probe"
    schedule: ClassVar[dict[str, Setting]] = {
        "cohort": Setting(Ramp(4, 16), 1, 1, 64, integer=True, geometric=True),
        "share": Setting(Ramp(0.5, 0.9), 1, 0.3, 1.0),
        "min_depth": Setting(Ramp(2, 8), 1, 1, 32, integer=True, geometric=True),
        "patience": Setting(Ramp(2, 6), 1, 1, 32, integer=True, geometric=True),
    }

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.cohort = min(self.limits.max_branches, int(self.value("cohort")))
        self.share = self.value("share")
        self.min_depth = int(self.value("min_depth"))
        self.patience = int(self.value("patience"))

    def decide(self, view: View) -> Sequence[Action]:
        if not view.branches:
            return [Branch(self.cohort, probe=True)]
        active = view.active
        probes = unprobed(view)
        if probes:
            return probes
        votes = view.current_votes()
        if not active:
            return [Answer()]
        if votes:
            leader, count = votes.most_common(1)[0]
            depth = max(b.depth for b in view.branches)
            alive = sum(1 for b in view.branches if not b.pruned)
            if depth >= self.min_depth and count >= self.share * alive:
                return [Answer()]
            prunable = len(active) - self.cohort // 2
            deviants = [b for b in active if disagrees_for(b, leader, self.patience)]
            prunes = [Prune(b.id) for b in deviants[: max(0, prunable)]]
            pruned = {p.branch for p in prunes}
            return [*prunes, *(continue_and_probe(b.id) for b in active if b.id not in pruned)]
        return [continue_and_probe(b.id) for b in active]
