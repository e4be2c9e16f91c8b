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
    _front,
    _front_of_two,
    _Label,
    dominated,
    gain,
    knots_of,
    lower_bound,
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


def test_the_bound_is_below_the_mean_by_more_when_orderings_disagree() -> None:
    steady, noisy = (0.5,) * 8, (0.2, 0.8) * 4
    assert lower_bound(steady, 0.5) == pytest.approx(0.5)
    assert lower_bound(noisy, 0.5) < 0.45
    assert lower_bound((0.3,), 0.3) == 0.3  # one ordering: no spread to bound


def test_a_candidate_gains_only_what_it_adds_to_the_builtins_chain() -> None:
    def curve(*pts: tuple[float, float, float]) -> Curve:
        points = tuple(Point(b, a, t, (a,) * 4) for b, a, t in pts)
        return Curve(points, (("m1", points), ("m2", points)))

    refs = {"sc": curve((0.0, 0.3, 1000), (1.0, 0.6, 100_000))}
    assert gain(curve((0.0, 0.2, 1000)), refs) == pytest.approx(0.0)  # beaten: adds nothing
    assert gain(curve((0.5, 0.58, 10_000)), refs) > 0
    margin = noise_margin(knots_of("sc", refs["sc"]))
    assert margin == pytest.approx(0.0)  # identical orderings: no noise


def test_a_point_cheaper_than_every_builtin_is_out_of_scope() -> None:
    base, top = K("sc", 0.0, 1000, 0.3), K("sc", 1.0, 100_000, 0.6)
    cheaper = K(0, 0.0, 100, 0.05)  # reaches budgets no built-in does, at 5%: not credited
    assert select([cheaper, base, top], margin=0.0) == [base, top]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), max_size=40))
def test_the_two_environment_sweep_keeps_the_same_chains(areas: list[tuple[int, int]]) -> None:
    """Small integer areas, so that ties and duplicates are common: the same labels, in
    the same order, as the general front."""
    labels = [_Label((float(a), float(b)), i, None) for i, (a, b) in enumerate(areas)]
    labels.sort(key=lambda lab: -sum(lab.areas))
    assert _front_of_two(labels) == _front(labels)
