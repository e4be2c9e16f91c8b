"""The one objective and its selection: properties, over random pools of operating points."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tts_proxy.discovery.curves import Curve, Point
from tts_proxy.discovery.objective import (
    Knot,
    Range,
    bounded,
    dominated,
    gain,
    knots_of,
    noise_margin,
    select,
    value,
)

SOURCES: tuple[str | int, ...] = ("sc", "cmc", 0, 1)


@st.composite
def knots(draw: st.DrawFn, envs: int = 2) -> Knot:
    costs = tuple(draw(st.floats(100, 1e6)) for _ in range(envs))
    accuracy = tuple(draw(st.floats(0, 1)) for _ in range(envs))
    spread = draw(st.floats(0, 0.1))
    lower = tuple(max(0.0, a - spread) for a in accuracy)
    return Knot(draw(st.sampled_from(SOURCES)), draw(st.floats(0, 1)), costs, accuracy, lower)


pools = st.lists(knots(), min_size=1, max_size=14)


@settings(max_examples=200, deadline=None)
@given(pools)
def test_cost_rises_along_the_chain_on_every_environment(pool: list[Knot]) -> None:
    chain = select(pool)
    for a, b in itertools.pairwise(chain):
        assert all(new > old for new, old in zip(b.costs, a.costs, strict=True))
        if a.source == b.source:
            assert b.beta > a.beta  # one controller's knob runs forward


@settings(max_examples=200, deadline=None)
@given(pools)
def test_a_dominated_point_or_one_outside_the_builtins_budgets_is_never_chosen(
    pool: list[Knot],
) -> None:
    span = Range.of(pool)
    for k in select(pool):
        assert not dominated(k, pool) and span.contains(k)


@settings(max_examples=200, deadline=None)
@given(pools, st.floats(0, 0.05))
def test_a_hop_between_controllers_gains_more_than_the_noise(
    pool: list[Knot], margin: float
) -> None:
    for a, b in itertools.pairwise(select(pool, margin)):
        if a.source != b.source:
            assert b.mean_lower >= a.mean_lower + margin


@settings(max_examples=100, deadline=None)
@given(pools)
def test_the_chain_is_no_worse_than_any_controller_alone(pool: list[Knot]) -> None:
    span = Range.of(pool)
    best = value(select(pool), span)
    for source in {k.source for k in pool}:
        own = [k for k in pool if k.source == source]
        alone = select(own)  # its own best chain, which the pool's selection could also take
        if all(span.contains(k) and not dominated(k, pool) for k in alone):
            assert best >= value(alone, span) - 1e-9


def K(source: str | int, beta: float, cost: float, acc: float) -> Knot:
    return Knot(source, beta, (cost, cost * 2), (acc, acc), (acc, acc))


def test_a_gain_within_the_noise_is_not_followed_and_a_clear_one_is() -> None:
    cheap, dear = K("sc", 0.0, 1000, 0.30), K("sc", 1.0, 100_000, 0.60)
    small = K("cmc", 0.5, 10_000, 0.46)  # above sc's line there, by less than the margin
    large = K("cmc", 0.5, 10_000, 0.55)
    assert select([cheap, small, dear], margin=0.2) == [cheap, dear]
    # A clear gain is followed; the hop on to sc's top would gain less than the margin.
    assert select([cheap, large, dear], margin=0.2) == [cheap, large]
    assert select([cheap, large, dear], margin=0.0) == [cheap, large, dear]


def test_the_worst_environment_against_the_builtins_decides() -> None:
    base, top = K("sc", 0.0, 1000, 0.3), K("sc", 1.0, 100_000, 0.6)
    # Far better on one model, but under the built-ins' line on the other: not taken.
    lopsided = Knot(0, 0.5, (5000, 10_000), (0.9, 0.25), (0.9, 0.25))
    assert select([base, lopsided, top], margin=0.0) == [base, top]
    # Above the built-ins on both: taken, however small its lead on the weaker model.
    both = Knot(0, 0.5, (5000, 10_000), (0.5, 0.33), (0.5, 0.33))
    assert both in select([base, both, top], margin=0.0)


def Q(source: str | int, cost: float, questions: tuple[float, ...]) -> Knot:
    """A knot on one environment, with each question's accuracy."""
    acc = sum(questions) / len(questions)
    return Knot(source, 0.5, (cost,), (acc,), (acc,), (questions,))


SPREAD = (0.0, 1.0, 0.5, 0.25, 1.0, 0.0, 0.75, 0.5) * 4  # 32 questions, hard and easy


def test_a_point_on_the_builtins_frontier_keeps_its_accuracy() -> None:
    low, high = Q("sc", 1000, SPREAD), Q("sc", 10_000, tuple(min(1.0, q + 0.25) for q in SPREAD))
    under = Q("cmc", 5000, SPREAD)  # below the line between them
    bound = {k.source: k for k in bounded([low, high])}
    assert bound["sc"].lower == bound["sc"].accuracy
    (_, _, u) = bounded([low, high, under])
    assert u.lower < u.accuracy


def test_the_bound_is_paired_a_copy_of_the_frontier_has_no_noise() -> None:
    # Questions differ wildly from each other, but the copy differs from the frontier nowhere.
    builtin, copy = Q("sc", 1000, SPREAD), Q(0, 1000, SPREAD)
    assert bounded([builtin, copy])[1].lower == pytest.approx(copy.accuracy)


def test_a_lead_that_rests_on_one_question_is_bounded_lower_than_a_steady_one() -> None:
    base = (0.5,) * 32
    steady = Q(0, 1000, (0.5 + 1 / 64,) * 32)  # half a question, spread over all
    lucky = Q(1, 1000, (1.0,) + (0.5,) * 31)  # the same lead, from one question
    _, s, lu = bounded([Q("sc", 1000, base), steady, lucky])
    assert s.accuracy == pytest.approx(lu.accuracy)
    assert s.lower == pytest.approx(s.accuracy)  # the same gain on every question: certain
    assert lu.lower[0] < s.lower[0] - 0.01


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(SOURCES), st.floats(100, 1e6),
                          st.lists(st.sampled_from((0.0, 0.25, 1.0)), min_size=8, max_size=8)),
                min_size=1, max_size=10))  # fmt: skip
def test_a_bound_is_never_above_the_accuracy(
    raw: list[tuple[str | int, float, list[float]]],
) -> None:
    pool = bounded([Q(source, cost, tuple(qs)) for source, cost, qs in raw])
    for k in pool:
        assert 0.0 <= k.accuracy[0] - k.lower[0] <= 1.0


def test_a_candidate_gains_only_what_it_adds_to_the_builtins_chain() -> None:
    def curve(*pts: tuple[float, float, float]) -> Curve:
        points = tuple(Point(b, a, t, (a,) * 4, (a,) * 8) for b, a, t in pts)
        return Curve(points, (("m1", points), ("m2", points)))

    refs = {"sc": curve((0.0, 0.3, 1000), (1.0, 0.6, 100_000))}
    assert gain(curve((0.0, 0.2, 1000)), refs) == pytest.approx(0.0)  # beaten: adds nothing
    assert gain(curve((0.5, 0.58, 10_000)), refs) > 0  # the same lead on every question
    margin = noise_margin(bounded(knots_of("sc", refs["sc"])))
    assert margin == pytest.approx(0.0)  # every built-in on the frontier: no noise to see


def test_a_lead_on_one_question_of_each_model_is_not_a_gain() -> None:
    # Above sc's line on average, but only by one question of eight out of the blue.
    flat = tuple(0.3 for _ in range(8))
    sc = (Point(0.0, 0.3, 1000, (), flat), Point(1.0, 0.3, 100_000, (), flat))
    lucky_q = (1.0,) + (0.3,) * 7
    lucky = (Point(0.5, sum(lucky_q) / 8, 10_000, (), lucky_q),)
    refs = {"sc": Curve(sc, (("m1", sc), ("m2", sc)))}
    assert gain(Curve(lucky, (("m1", lucky), ("m2", lucky))), refs) <= 0.0


def test_a_point_cheaper_than_every_builtin_is_out_of_scope() -> None:
    base, top = K("sc", 0.0, 1000, 0.3), K("sc", 1.0, 100_000, 0.6)
    cheaper = K(0, 0.0, 100, 0.05)  # reaches budgets no built-in does, at 5%: not credited
    assert select([cheaper, base, top], margin=0.0) == [base, top]
