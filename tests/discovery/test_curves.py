"""Curves: the reachable accuracy within a budget, and comparison against references."""

from __future__ import annotations

import pytest

from tts_proxy.discovery.curves import Curve, Point, compare


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
