"""The live baseline (self-consistency at a stated width) and the replay reference."""

from __future__ import annotations

import json
from pathlib import Path

from tts_proxy.savings import SavingsEstimator, read_report, reference
from tts_proxy.state import BranchState


def branch(tokens: int, finished: bool = True) -> BranchState:
    return BranchState(id=0, tokens=tokens, finished=finished)


def test_the_baseline_is_the_reference_width_times_the_mean_finished_length() -> None:
    est = SavingsEstimator(width=8)
    # SC@8 would spend 8 x mean(100, 300) = 1600; the search spent 450.
    baseline = est.estimate("m", [branch(100), branch(300), branch(50, False)], 450)
    assert baseline is not None
    assert (baseline.method, baseline.tokens, baseline.tokens_saved) == ("sc@8", 1600, 1150)
    assert baseline.savings_ratio == round(1 - 450 / 1600, 4)


def test_with_nothing_finished_recent_branches_of_the_model_stand_in() -> None:
    est = SavingsEstimator(width=4)
    est.estimate("m", [branch(200), branch(400)], 600)
    baseline = est.estimate("m", [branch(50, False)], 60)
    assert baseline is not None and baseline.tokens == 4 * 300
    assert est.estimate("other", [branch(50, False)], 60) is None  # nothing known yet


def test_spending_more_than_the_baseline_is_a_negative_saving() -> None:
    baseline = SavingsEstimator(width=1).estimate("m", [branch(100)], 5000)
    assert baseline is not None and baseline.tokens_saved == -4900
    assert baseline.savings_ratio is not None and baseline.savings_ratio < 0


def test_the_reference_is_the_reports_point_nearest_the_beta(tmp_path: Path) -> None:
    path = tmp_path / "savings.json"
    points = [{"beta": b, "savings_ratio": 1 - b, "accuracy_delta_points": -10 * (1 - b)}
              for b in (0.0, 0.5, 1.0)]  # fmt: skip
    report = {"schema": "tts-savings/1", "baseline": "sc@64", "data": "AIME24",
              "source": "test", "controllers": {"cmc": points}}  # fmt: skip
    path.write_text(json.dumps(report))
    read = read_report(path)
    ref = reference(read, "cmc", 0.6)
    assert ref is not None and (ref.beta, ref.baseline, ref.data) == (0.5, "sc@64", "AIME24")
    assert ref.accuracy_delta_points == -5.0
    assert reference(read, "sc", 0.5) is None
    assert read_report(tmp_path / "missing.json") is None
