"""Fitting the learned rule: labels from replay (does answering now match the whole pool)."""

from __future__ import annotations

import math
from pathlib import Path

from tests.discovery.conftest import two_models
from tts_proxy.controllers.learned import FEATURES
from tts_proxy.discovery import learning
from tts_proxy.discovery.environments import load_environment
from tts_proxy.state import BranchState, ProbeRecord


def test_the_leading_key_is_the_finished_majority_else_the_latest_probes() -> None:
    done = [BranchState(0, finished=True, key="4", active=False),
            BranchState(1, finished=True, key="5", active=False),
            BranchState(2, finished=True, key="5", active=False)]  # fmt: skip
    running = BranchState(3, probes=[ProbeRecord(1, "7", "7")])
    assert learning.leading_key([*done, running]) == "5"
    assert learning.leading_key([running]) == "7"
    assert learning.leading_key([]) is None


def test_a_rule_fitted_on_replay_is_finite_and_reads_the_state(tmp_path: Path) -> None:
    envs = [load_environment(p) for p in two_models(tmp_path)]
    rule = learning.fit(envs, repeats=2, width=16)
    numbers = [*rule.weights, rule.bias, *rule.mean, *rule.scale]
    assert len(rule.weights) == len(FEATURES) and all(math.isfinite(x) for x in numbers)
    assert any(w != 0 for w in rule.weights)
    spec = learning.rule_spec(rule)
    assert spec.rule() == rule  # plain numbers, kept exactly
