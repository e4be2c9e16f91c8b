"""Token confidence (DeepConf, Fu et al. 2025): how sure a model was of what it wrote.

A token's confidence is the mean negative log-probability of its top-k alternatives (high:
the model put its mass on one token, so the alternatives are all unlikely). A *group* is a
sliding window of tokens; a branch's signals at a chunk boundary are:

- ``group``: the mean token confidence over the last ``window`` tokens;
- ``lowest``: the lowest group confidence the branch has had so far (a full window each, or
  the whole branch while it is shorter than one);
- ``tail``: the mean over the last ``tail`` tokens.

Computed from the logprobs vLLM returns with each chunk, in O(1) per token; recorded per
chunk in traces and replayed from there.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

TOP_K = 5  # alternatives per token vLLM is asked for (DeepConf uses the top few)
WINDOW = 128
TAIL = 256


class _Logprob(Protocol):
    @property
    def logprob(self) -> float: ...
    @property
    def top(self) -> tuple[tuple[str, float], ...]: ...


def token_confidence(lp: _Logprob) -> float:
    """Mean negative log-probability of the token's top alternatives (the token's own when
    the server returned none)."""
    values = [v for _, v in lp.top] or [lp.logprob]
    return -sum(max(v, -1e4) for v in values) / len(values)  # -inf (masked) counts as very unsure


@dataclass(frozen=True, slots=True)
class ConfidenceSignals:
    """A branch's confidence at a chunk boundary."""

    group: float
    lowest: float
    tail: float


@dataclass(slots=True)
class ConfidenceMeter:
    """Accumulates token confidences; ``signals`` at any point."""

    window: int = WINDOW
    tail_tokens: int = TAIL
    _group: deque[float] = field(default_factory=deque)
    _group_sum: float = 0.0
    _tail: deque[float] = field(default_factory=deque)
    _tail_sum: float = 0.0
    _lowest: float | None = None
    tokens: int = 0

    def add(self, confidences: Iterable[float]) -> None:
        for c in confidences:
            self.tokens += 1
            self._group.append(c)
            self._group_sum += c
            if len(self._group) > self.window:
                self._group_sum -= self._group.popleft()
            self._tail.append(c)
            self._tail_sum += c
            if len(self._tail) > self.tail_tokens:
                self._tail_sum -= self._tail.popleft()
            if len(self._group) == self.window:
                group = self._group_sum / self.window
                self._lowest = group if self._lowest is None else min(self._lowest, group)

    def signals(self) -> ConfidenceSignals | None:
        if not self._group:
            return None
        group = self._group_sum / len(self._group)
        lowest = self._lowest if self._lowest is not None else group
        return ConfidenceSignals(group, lowest, self._tail_sum / len(self._tail))
