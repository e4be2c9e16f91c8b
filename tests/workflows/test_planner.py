"""The planner and ``tts-proxy plan``: the chosen plan, the comparison, the files written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.workflows.grids import small_grid
from tts_proxy.cli import main
from tts_proxy.workflows.book import check_plan
from tts_proxy.workflows.environment import Table, write_environment
from tts_proxy.workflows.grids import budget_at
from tts_proxy.workflows.plan import parse_plan
from tts_proxy.workflows.planner import _median, exhaustive, plan_workflow, split_questions
from tts_proxy.workflows.search import METHODS


def test_the_planner_ships_the_optimum_and_compares_every_method() -> None:
    env = small_grid(2)
    table = Table(env)
    budget = budget_at(env, 0.5)
    cap = table.size() // 2  # the chosen plan cannot come from measuring everything
    plan, report = plan_workflow(table, budget, METHODS, method="insight", seeds=3,
                                 max_trials=cap, sweep=False)  # fmt: skip
    optimum = exhaustive(table, budget, None)
    assert plan is not None and optimum is not None
    assert report.optimum_score == optimum.score == report.chosen.score  # type: ignore[union-attr]
    assert plan.expected_flops is not None and plan.expected_flops <= budget * (1 + 1e-6)
    assert check_plan(plan, set(env.parameters), {"sc"}) is plan  # servable as it is
    assert {m.method for m in report.methods} == set(METHODS)
    for m in report.methods:
        assert len(m.trials_to_within_1pct) == len(m.trials_to_optimum) == 3
        assert all(t is None or t <= cap for t in m.trials_to_optimum)
        assert m.median_curve == sorted(m.median_curve)  # best-so-far never falls
    insight = next(m for m in report.methods if m.method == "insight")
    assert all(t is not None for t in insight.trials_to_optimum)


def test_a_budget_below_every_plan_ships_nothing() -> None:
    env = small_grid(0)
    plan, report = plan_workflow(Table(env), 1.0, METHODS, method="random", seeds=1,
                                 max_trials=10, sweep=False)  # fmt: skip
    assert plan is None and report.chosen is None and report.optimum_score is None


def test_questions_split_apart_and_reproducibly() -> None:
    table = Table(small_grid(0))  # one aggregate "question": nothing to hold out
    assert split_questions(table, 0.3, 0) == (["all"], [])


def test_never_reached_counts_above_any_count() -> None:
    assert _median([3, None, 5]) == 5 and _median([None, None, 1]) is None
    assert _median([2, 4]) == 3


def test_the_plan_command_writes_the_plan_and_its_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_environment(tmp_path / "env.json", small_grid(1))
    with pytest.raises(SystemExit) as stop:
        main(["plan", "--workflow", "agentic", "--data", str(tmp_path / "env.json"),
              "--seeds", "2", "--trials", "64", "--out", str(tmp_path / "plans" / "a.json"),
              "--report", str(tmp_path / "reports" / "a")])  # fmt: skip
    assert stop.value.code == 0
    summary = json.loads(capsys.readouterr().out)
    plan = parse_plan((tmp_path / "plans" / "a.json").read_bytes())
    assert plan.workflow == "agentic" and summary["stages"] == plan.describe()
    report = json.loads((tmp_path / "reports" / "a.json").read_text())
    assert report["chosen"]["score"] == report["optimum_score"]
    assert (tmp_path / "reports" / "a.png").stat().st_size > 0
    assert set(summary["median_trials_to_within_1pct"]) == {"random", "tpe", "insight"}


def test_the_plan_command_says_what_is_wrong_with_its_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "g.csv").write_text("x,y\n1,2\n")
    with pytest.raises(SystemExit) as stop:
        main(["plan", "--workflow", "w", "--data", str(tmp_path / "g.csv")])
    assert stop.value.code == 2 and "needs <stage>_model" in capsys.readouterr().err
    write_environment(tmp_path / "env.json", small_grid(1))
    with pytest.raises(SystemExit) as stop:
        main(["plan", "--workflow", "w", "--data", str(tmp_path / "env.json"),
              "--method", "agent"])  # fmt: skip
    assert stop.value.code == 2 and "--agent-base-url" in capsys.readouterr().err
