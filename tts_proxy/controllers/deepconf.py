"""DeepConf online (Fu et al. 2025, "Deep Think with Confidence"): a few warm-up branches run
to the end and set a confidence threshold; later branches are stopped as soon as their group
confidence (``tts_proxy.confidence``) falls below it; finished branches vote, weighted by
their lowest group confidence. The search asks the model server for top-k logprobs.

beta maps, monotonically:
- the width: N = 2 + round(beta * (max_branches - 2)) branches in all, a quarter of them (at
  least one) the warm-up;
- the share of warm-up branches that would pass the threshold: 10% at beta 0 (DeepConf-low:
  aggressive stopping) to 90% at beta 1 (DeepConf-high), so more beta stops fewer branches.
The search also ends once half the width has finished and 95% of their (weighted) votes
agree. Without confidence signals (a
server that returns no logprobs) no branch is stopped: it is self-consistency at width N.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tts_proxy.actions import Action, Answer, Branch, Continue, Prune
from tts_proxy.controllers.base import Controller, interpolate
from tts_proxy.state import BranchState, View

WARMUP_SHARE = 0.25
CONSENSUS = 0.95


class DeepConf(Controller):
    name = "deepconf"
    wants_confidence = True

    @property
    def width(self) -> int:
        cap = self.limits.max_branches
        return min(cap, 2 + round(interpolate(0, max(0, cap - 2), self.beta)))

    @property
    def warmup(self) -> int:
        return max(1, math.ceil(self.width * WARMUP_SHARE))

    @property
    def keep_share(self) -> float:
        return interpolate(0.1, 0.9, self.beta)

    def threshold(self, view: View) -> float | None:
        """The warm-up branches' lowest group confidence at the (1 - keep share) quantile."""
        warm = sorted(b.confidence.lowest for b in view.branches[: self.warmup]
                      if b.finished and b.confidence is not None)  # fmt: skip
        if not warm:
            return None
        return warm[min(len(warm) - 1, int((1 - self.keep_share) * len(warm)))]

    def decide(self, view: View) -> Sequence[Action]:
        if not view.branches:
            return [Branch(min(self.warmup, view.can_branch), to_end=True)]
        warm = view.branches[: self.warmup]
        if any(b.active for b in warm):
            return [Continue(b.id, to_end=True) for b in warm if b.active]
        if self._agreed(view):
            return [Answer()]
        floor = self.threshold(view)
        actions: list[Action] = []
        for b in view.branches[self.warmup :]:
            if not b.active:
                continue
            if floor is not None and b.confidence is not None and b.confidence.group < floor:
                actions.append(Prune(b.id))
            else:
                actions.append(Continue(b.id))
        missing = min(self.width - len(view.branches), view.can_branch)
        if missing > 0:
            actions.append(Branch(missing))
        return actions or [Answer()]

    def _weights(self, view: View) -> dict[str, float]:
        votes: dict[str, float] = {}
        for b in view.branches:
            if b.finished and b.key is not None:
                votes[b.key] = votes.get(b.key, 0.0) + _weight(b)
        return votes

    def _agreed(self, view: View) -> bool:
        """Whether half the width has finished and their weighted votes (nearly) agree."""
        if sum(1 for b in view.branches if b.finished) < math.ceil(self.width / 2):
            return False
        votes = self._weights(view)
        total = sum(votes.values())
        return total > 0 and max(votes.values()) / total >= CONSENSUS

    def aggregate(self, view: View) -> str | None:
        """The confidence-weighted majority of the finished branches."""
        votes = self._weights(view)
        if not votes:
            return super().aggregate(view)
        winner = max(votes, key=votes.__getitem__)
        return next(b.answer for b in view.branches if b.finished and b.key == winner)


def _weight(branch: BranchState) -> float:
    """A vote's weight: the branch's lowest group confidence (1 without a signal)."""
    return branch.confidence.lowest if branch.confidence is not None else 1.0
