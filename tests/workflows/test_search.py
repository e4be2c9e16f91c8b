"""Plan searches: the oracle's accounting, and every method ending at the optimum."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.workflows.grids import small_grid
from tts_proxy.workflows.environment import Choice, Table
from tts_proxy.workflows.grids import budget_at
from tts_proxy.workflows.planner import exhaustive
from tts_proxy.workflows.search import (
    METHODS,
    Exhausted,
    InsightSearch,
    Oracle,
    RandomSearch,
    run_search,
)


def setup(seed: int = 0, share: float = 0.5) -> tuple[Table, float]:
    env = small_grid(seed)
    return Table(env), budget_at(env, share)


def test_the_oracle_counts_distinct_plans_and_marks_the_budget() -> None:
    table, budget = setup()
    oracle = Oracle(table, budget, max_trials=2)
    cheap = (Choice(model="small-1b", samples=1),) * 2
    dear = (Choice(model="large-8b", samples=8),) * 2
    assert oracle(cheap).feasible and not oracle(dear).feasible
    assert oracle(cheap) is oracle.archive[0]  # a repeat is free
    with pytest.raises(Exhausted):
        oracle(tuple(o[1] for o in table.space()))
    assert oracle.best() == oracle.archive[0]


def test_the_oracle_stops_once_the_target_is_reached() -> None:
    table, budget = setup()
    cheap = (Choice(model="small-1b", samples=1),) * 2
    oracle = Oracle(table, budget, stop_score=0.0)
    oracle(cheap)
    assert oracle.spent


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_method_ends_at_the_exhaustive_optimum(name: str) -> None:
    table, budget = setup(1)
    optimum = exhaustive(table, budget, None)
    assert optimum is not None
    oracle = Oracle(table, budget)
    best = run_search(METHODS[name](), oracle, random.Random(0))
    assert best is not None and best.score == optimum.score
    assert len({t.plan for t in oracle.archive}) == len(oracle.archive)  # nothing twice


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), share=st.floats(0.05, 0.95))
def test_the_insight_search_reaches_the_optimum_before_measuring_everything(
    seed: int, share: float
) -> None:
    table, budget = setup(seed, share)
    optimum = exhaustive(table, budget, None)
    if optimum is None:  # nothing fits the budget
        return
    oracle = Oracle(table, budget, stop_score=optimum.score)
    run_search(InsightSearch(), oracle, random.Random(seed))
    best = oracle.best()
    assert best is not None and best.score == optimum.score
    assert len(oracle.archive) < table.size() // 2  # well before an exhaustive search


def test_random_search_draws_without_replacement() -> None:
    table, budget = setup()
    oracle = Oracle(table, budget)
    run_search(RandomSearch(), oracle, random.Random(3))
    assert len(oracle.archive) == table.size()
