"""Fitting the learned stopping rule (``controllers.learned``) on the search set.

Every search-set question is replayed on a few orderings by the rule's own loop with a bar it
never reaches, so it runs until the whole pool has finished; at each decision the state's
features are kept with what answering there would have given. The label: that answer is the
one the whole pool gives at the end. It needs no gold labels, so it fits on the proxy's own
traffic logs as well. A logistic regression (scikit-learn) on standardised features gives the
rule's plain numbers; beta then sets the probability the rule must reach.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from tts_proxy.actions import Action
from tts_proxy.controllers.base import Limits
from tts_proxy.controllers.document import RuleSpec
from tts_proxy.controllers.learned import UNTRAINED, LearnedStop, LinearRule, features
from tts_proxy.discovery.environments import Environment
from tts_proxy.replay.evaluate import ordering, replay_one
from tts_proxy.state import BranchState, View


def leading_key(branches: Sequence[BranchState]) -> str | None:
    """The key answering now would vote for: the finished branches' majority, else the
    latest probes' (as ``majority_answer``; ties to the first seen)."""
    keys = [b.key for b in branches if b.finished and b.key is not None]
    if not keys:
        keys = [k for b in branches if not b.pruned and (k := b.current_key) is not None]
    counts = Counter(keys)
    return max(counts, key=counts.__getitem__) if counts else None


@dataclass
class _Seen:
    rows: list[tuple[float, ...]] = field(default_factory=list)
    keys: list[str | None] = field(default_factory=list)


def _recorder(seen: _Seen) -> type[LearnedStop]:
    class Recorder(LearnedStop):
        """The rule's own loop with a bar it never reaches, keeping each decision's state."""

        def decide(self, view: View) -> Sequence[Action]:
            self.values["threshold"] = 2.0
            if view.branches and not any(b.active and not b.probed_at_depth for b in view.branches):
                seen.rows.append(features(view, self.ema))
                seen.keys.append(leading_key(view.branches))
            return super().decide(view)

    return Recorder


async def _collect(
    envs: Sequence[Environment], repeats: int, seed: int, width: int
) -> tuple[list[tuple[float, ...]], list[int]]:
    rows: list[tuple[float, ...]] = []
    labels: list[int] = []
    for env in envs:
        for qi, question in enumerate(env.questions):
            size = len(question.branches)
            limits = Limits(min(width, size), None, question.chunk_tokens)
            for r in range(repeats):
                seen = _Seen()
                order = ordering(qi, r, size, None, seed)
                result = await replay_one(_recorder(seen), question, 1.0, limits, order,
                                          seed=seed + r)  # fmt: skip
                final = leading_key(result.branches)
                rows += seen.rows
                labels += [int(k is not None and k == final) for k in seen.keys]
    return rows, labels


def fit(
    envs: Sequence[Environment], *, repeats: int = 4, seed: int = 0, width: int = 64
) -> LinearRule:
    """The rule fitted on ``envs`` (the untrained one when every state has the same label)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    rows, labels = asyncio.run(_collect(envs, repeats, seed, width))
    if len(set(labels)) < 2:
        return UNTRAINED
    scaler = StandardScaler().fit(rows)
    model = LogisticRegression(max_iter=1000).fit(scaler.transform(rows), labels)
    scale = tuple(float(s) if s > 0 else 1.0 for s in scaler.scale_)
    return LinearRule(
        weights=tuple(round(float(w), 6) for w in model.coef_[0]),
        bias=round(float(model.intercept_[0]), 6),
        mean=tuple(round(float(m), 6) for m in scaler.mean_),
        scale=tuple(round(s, 6) for s in scale),
    )


def rule_spec(rule: LinearRule) -> RuleSpec:
    return RuleSpec(weights=list(rule.weights), bias=rule.bias, mean=list(rule.mean),
                    scale=list(rule.scale))  # fmt: skip
