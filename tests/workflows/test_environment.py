"""Workflow environments: what a valid one is, and how a plan is measured on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tts_proxy.errors import PlanError
from tts_proxy.workflows.environment import (
    Cell,
    Choice,
    StageOutcome,
    Table,
    WorkflowEnvironment,
    read_environment,
    write_environment,
)

A1, A2, B1 = (
    Choice(model="a", samples=1),
    Choice(model="a", samples=2),
    Choice(model="b", samples=1),
)


def cell(stage: str, choice: Choice, scores: dict[str, float], flops: float = 10.0,
         upstream: dict[str, Choice] | None = None) -> Cell:  # fmt: skip
    outcomes = [StageOutcome(question=q, score=s, tokens=1, flops=flops) for q, s in scores.items()]
    return Cell(stage=stage, choice=choice, upstream=upstream or {}, outcomes=outcomes)


def env(combine: str = "last") -> WorkflowEnvironment:
    return WorkflowEnvironment(
        workflow="w", stages=["first", "second"], combine=combine,
        cells=[
            cell("first", A1, {"q1": 1.0, "q2": 0.0}, flops=10),
            cell("first", A2, {"q1": 1.0, "q2": 1.0}, flops=20),
            cell("second", B1, {"q1": 0.5, "q2": 0.5}, flops=5, upstream={"first": A1}),
            cell("second", B1, {"q1": 1.0, "q2": 0.5}, flops=5, upstream={"first": A2}),
        ],
    )  # fmt: skip


def test_a_plan_is_measured_as_the_mean_over_questions_of_its_stages() -> None:
    table = Table(env())
    m = table.measure((A2, B1))
    assert m is not None and (m.score, m.flops, m.stage_flops) == (0.75, 25.0, (20.0, 5.0))
    assert table.measure((A2, B1), ["q1"]).score == 1.0  # type: ignore[union-attr]
    assert table.measure((B1, B1)) is None  # nothing recorded for b at the first stage


def test_product_needs_every_stage_to_succeed() -> None:
    m = Table(env("product")).measure((A1, B1))
    assert m is not None and m.score == (1.0 * 0.5 + 0.0 * 0.5) / 2


def test_the_options_are_what_was_recorded() -> None:
    table = Table(env())
    assert table.space() == [[A1, A2], [B1]] and table.size() == 2


@pytest.mark.parametrize(
    "cells",
    [
        [cell("third", A1, {"q": 1})],  # no such stage
        [cell("first", A1, {"q": 1}, upstream={"second": B1}), cell("second", B1, {"q": 1})],
        [cell("first", A1, {"q": 1}), cell("second", B1, {"q": 1}),
         cell("second", A1, {"q": 1}, upstream={"first": A1})],  # mixed upstream keys
        [cell("first", A1, {"q": 1})],  # a stage with no cells
    ],
)  # fmt: skip
def test_an_inconsistent_environment_is_refused(cells: list[Cell]) -> None:
    with pytest.raises(ValidationError):
        WorkflowEnvironment(workflow="w", stages=["first", "second"], cells=cells)


def test_an_environment_round_trips_through_its_file(tmp_path: Path) -> None:
    write_environment(tmp_path / "env.json", env())
    assert read_environment(tmp_path / "env.json") == env()
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(PlanError, match="tts-workflow-env/1"):
        read_environment(tmp_path / "bad.json")
