from __future__ import annotations

from tts_proxy.savings import SavingsEstimator
from tts_proxy.state import BranchState


def branch(tokens: int, finished: bool = True) -> BranchState:
    return BranchState(id=0, tokens=tokens, finished=finished)


def test_width_times_mean_finished_length_minus_spent() -> None:
    est = SavingsEstimator()
    # SC at width 8 would spend 8 x mean(100, 300) = 1600; the search spent 450.
    assert est.estimate("m", 8, [branch(100), branch(300), branch(50, False)], 450) == 1150


def test_falls_back_to_recent_branches_of_the_model() -> None:
    est = SavingsEstimator()
    est.estimate("m", 4, [branch(200), branch(400)], 600)
    assert est.estimate("m", 4, [branch(50, False)], 60) == 4 * 300 - 60
    assert est.estimate("other", 4, [branch(50, False)], 60) == 0  # nothing known yet


def test_never_negative() -> None:
    assert SavingsEstimator().estimate("m", 1, [branch(100)], 5000) == 0
