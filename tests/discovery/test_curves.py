"""Curves: the reachable accuracy within a budget, and comparison against references."""

from __future__ import annotations

from pathlib import Path

import pytest

from tts_proxy.controllers.base import Controller, Ramp
from tts_proxy.controllers.cmc import ConfidenceMomentum
from tts_proxy.controllers.deepconf import DeepConf
from tts_proxy.discovery.curves import Curve, Memo, Point, compare, measure
from tts_proxy.discovery.environments import Environment
from tts_proxy.replay.synthetic import synthetic_question

ENVS = [
    Environment(f"m{m}", Path(f"m{m}.json"),
                tuple(synthetic_question(10 * m + i) for i in range(4)), tuple(range(4)))
    for m in range(2)
]  # fmt: skip


def curve(*points: tuple[float, float]) -> Curve:
    return Curve(tuple(Point(i / 10, a, t) for i, (a, t) in enumerate(points)))


def test_accuracy_within_a_budget_interpolates_in_tokens() -> None:
    c = curve((0.2, 100), (0.6, 300))
    assert c.accuracy_within(50) is None
    assert c.accuracy_within(100) == pytest.approx(0.2)
    assert c.accuracy_within(200) == pytest.approx(0.4)
    assert c.accuracy_within(10_000) == pytest.approx(0.6)


def test_a_curve_above_every_reference_holds_at_every_point() -> None:
    refs = {"a": curve((0.1, 100), (0.5, 400)), "b": curve((0.3, 250))}
    above = curve((0.2, 90), (0.6, 300))
    assert all(g.holds() for g in compare(above, refs))


def test_a_curve_that_cannot_spend_that_little_falls_short() -> None:
    refs = {"cheap": curve((0.3, 10))}
    (gap,) = compare(curve((0.9, 100)), refs)
    assert gap.candidate_accuracy is None and not gap.holds()
    assert gap.difference == pytest.approx(-30)


def test_a_curve_keeps_each_orderings_accuracy_through_json() -> None:
    p = Point(0.5, 0.4, 1000.0, (0.3, 0.5))
    c = Curve((p,), (("m", (p,)),))
    assert Curve.from_json(c.to_json()) == c


def flat_cmc() -> type[Controller]:
    """cmc with every setting as at beta 0.5, whatever the beta."""
    ramps = {n: Ramp(r.at(0.5), r.at(0.5)) for n, r in ConfidenceMomentum.ramps.items()}
    return ConfidenceMomentum.with_data("flat", {"ramps": ramps})


def test_betas_that_resolve_alike_are_replayed_once_and_score_alike() -> None:
    memo = Memo()
    curve = measure(flat_cmc(), ENVS, (0.0, 0.5, 1.0), repeats=2, memo=memo)
    assert memo.hits == 2 * len(ENVS)
    assert len({(p.accuracy, p.tokens) for p in curve.points}) == 1
    assert [p.beta for p in curve.points] == [0.0, 0.5, 1.0]


def test_a_remembered_point_is_the_point_a_fresh_replay_gives() -> None:
    memo = Memo()
    measure(ConfidenceMomentum, ENVS, (0.5,), repeats=2, memo=memo)  # the built-in at 0.5
    remembered = measure(flat_cmc(), ENVS, (0.2, 0.9), repeats=2, memo=memo)
    fresh = measure(flat_cmc(), ENVS, (0.2, 0.9), repeats=2, memo=None)
    assert memo.hits == 2 * len(ENVS)
    assert remembered == fresh


def test_other_orderings_or_a_controller_without_a_key_are_replayed_again() -> None:
    memo = Memo()
    for seed in (0, 1):
        measure(flat_cmc(), ENVS[:1], (0.5,), repeats=2, seed=seed, memo=memo)
    measure(flat_cmc(), ENVS[:1], (0.5,), repeats=3, memo=memo)
    measure(DeepConf, ENVS[:1], (0.5, 0.5), repeats=2, memo=memo)
    assert memo.hits == 0


def test_the_memo_keeps_the_latest_points_within_its_size() -> None:
    memo = Memo(size=1)
    measure(flat_cmc(), ENVS, (0.5,), repeats=2, memo=memo)  # the second environment's stays
    measure(flat_cmc(), ENVS[1:], (0.5,), repeats=2, memo=memo)
    measure(flat_cmc(), ENVS[:1], (0.5,), repeats=2, memo=memo)
    assert memo.hits == 1
