"""Estimated tokens saved by a search, against self-consistency at the request's width.

For each request: what self-consistency at the request's maximum width would have spent
(width x the mean length of this request's finished branches, or of the model's recent
finished branches when none finished) minus what the search spent, floored at zero.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence

from tts_proxy.state import BranchState

RECENT = 256


class SavingsEstimator:
    """Keeps the lengths of recently finished branches per model, for requests with none."""

    def __init__(self, recent: int = RECENT) -> None:
        self._lengths: defaultdict[str, deque[int]] = defaultdict(lambda: deque(maxlen=recent))

    def estimate(self, model: str, width: int, branches: Sequence[BranchState], spent: int) -> int:
        finished = [b.tokens for b in branches if b.finished]
        self._lengths[model].extend(finished)
        lengths = finished or list(self._lengths[model])
        if not lengths:
            return 0
        baseline = width * sum(lengths) / len(lengths)
        return max(0, round(baseline - spent))
