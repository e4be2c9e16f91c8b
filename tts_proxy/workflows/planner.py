"""The planner: search a workflow's plan under a FLOPs budget, compare the search methods as
AgentTTS does (trials until within 1% of the best plan, median over seeds), and write the
plan file and a report.

The objective is fixed before any search: the mean score per run over the search questions,
subject to mean FLOPs per run at most the budget. Held-out questions (where the environment
has per-question records) are kept apart and only measured for the report.
"""

from __future__ import annotations

import itertools
import random
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel

from tts_proxy.errors import PlanError
from tts_proxy.workflows.environment import Table
from tts_proxy.workflows.grids import budget_at
from tts_proxy.workflows.plan import StagePlan, WorkflowPlan
from tts_proxy.workflows.search import ENUMERABLE, Oracle, PlanSearch, Trial, run_search

WITHIN = 0.01  # "within 1% of the best plan"
SWEEP_SHARES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)

MethodFactory = Callable[[], PlanSearch]


def split_questions(table: Table, held_out: float, seed: int) -> tuple[list[str], list[str]]:
    """Search and held-out questions (none held out when there is only one, or share 0)."""
    questions = list(table.questions)
    if len(questions) < 2 or held_out <= 0:
        return questions, []
    random.Random(seed).shuffle(questions)
    n = max(1, round(len(questions) * held_out))
    return sorted(questions[n:]), sorted(questions[:n])


def exhaustive(table: Table, budget: float, questions: Sequence[str] | None) -> Trial | None:
    """The best plan within the budget, measured plan by plan (None: too many plans)."""
    if table.size() > ENUMERABLE:  # no exhaustive optimum to compare to
        return None
    oracle = Oracle(table, budget, questions=questions)
    for plan in itertools.product(*table.space()):
        oracle(plan)
    return oracle.best()


class MethodSummary(BaseModel):
    """One method over seeds: trials to reach the target, per seed and the median."""

    method: str
    seeds: int
    trials_to_within_1pct: list[int | None]
    median_to_within_1pct: float | None
    trials_to_optimum: list[int | None]
    median_to_optimum: float | None
    best_score_median: float
    median_curve: list[float]  # best feasible score after each trial, median over seeds


@dataclass(frozen=True, slots=True)
class _Run:
    curve: list[float]
    to_within: int | None
    to_optimum: int | None
    best: Trial | None


def _first(curve: Sequence[float], target: float) -> int | None:
    return next((i + 1 for i, s in enumerate(curve) if s >= target - 1e-12), None)


def _median(values: Sequence[int | None]) -> float | None:
    """The median, where None (never reached) counts as more than any count; None when
    the median itself was never reached."""
    m = statistics.median(float("inf") if v is None else float(v) for v in values)
    return None if m == float("inf") else m


def _run(method: PlanSearch, table: Table, budget: float, questions: Sequence[str] | None,
         seed: int, max_trials: int, optimum: float | None) -> _Run:  # fmt: skip
    oracle = Oracle(table, budget, questions=questions, max_trials=max_trials, stop_score=optimum)
    best = run_search(method, oracle, random.Random(seed))
    curve, top = [], 0.0
    for t in oracle.archive:
        if t.feasible:
            top = max(top, t.score)
        curve.append(top)
    if optimum is None:
        return _Run(curve, None, None, best)
    return _Run(curve, _first(curve, optimum * (1 - WITHIN)), _first(curve, optimum), best)


def compare(table: Table, budget: float, methods: Mapping[str, MethodFactory], *,
            seeds: int, max_trials: int, questions: Sequence[str] | None,
            optimum: float | None) -> list[MethodSummary]:  # fmt: skip
    """Every method from ``seeds`` seeds; each run stops at the optimum or ``max_trials``."""
    out = []
    for name, make in methods.items():
        runs = [
            _run(make(), table, budget, questions, s, max_trials, optimum) for s in range(seeds)
        ]
        length = max(len(r.curve) for r in runs)
        padded = [r.curve + [r.curve[-1] if r.curve else 0.0] * (length - len(r.curve))
                  for r in runs]  # fmt: skip
        out.append(MethodSummary(
            method=name, seeds=seeds,
            trials_to_within_1pct=[r.to_within for r in runs],
            median_to_within_1pct=_median([r.to_within for r in runs]),
            trials_to_optimum=[r.to_optimum for r in runs],
            median_to_optimum=_median([r.to_optimum for r in runs]),
            best_score_median=statistics.median(r.best.score if r.best else 0.0 for r in runs),
            median_curve=[statistics.median(col) for col in zip(*padded, strict=True)],
        ))  # fmt: skip
    return out


def to_plan(table: Table, trial: Trial, budget: float, source: str) -> WorkflowPlan:
    """The plan file of a searched allocation: each stage's model and samples."""
    stages = {s: StagePlan(model=c.model, samples=c.samples)
              for s, c in zip(table.stages, trial.plan, strict=True)}  # fmt: skip
    return WorkflowPlan(workflow=table.env.workflow, stages=stages, flops_budget=budget,
                        expected_score=round(trial.score, 6),
                        expected_flops=float(f"{trial.flops:.6g}"), source=source)  # fmt: skip


class ChosenPlan(BaseModel):
    plan: dict[str, str]
    score: float
    flops: float
    held_out_score: float | None
    held_out_optimum: float | None
    search_optimum: float | None


class SweepPoint(BaseModel):
    budget: float
    chosen_score: float | None
    chosen_flops: float | None
    optimum_score: float | None


class PlanReport(BaseModel):
    """What ``tts-proxy plan`` measured: written beside the plan as JSON (and a PNG)."""

    schema_: str = "tts-plan-report/1"
    workflow: str
    source: str
    regularities: dict[str, str]
    stages: list[str]
    plans_in_space: int
    budget: float
    objective: str
    method: str
    max_trials: int
    search_questions: int
    held_out_questions: int
    optimum: dict[str, str] | None
    optimum_score: float | None
    chosen: ChosenPlan | None
    methods: list[MethodSummary]
    sweep: list[SweepPoint]
    seconds: float


def _named(table: Table, trial: Trial | None) -> dict[str, str] | None:
    if trial is None:
        return None
    return {s: str(c) for s, c in zip(table.stages, trial.plan, strict=True)}


def plan_workflow(
    table: Table,
    budget: float,
    methods: Mapping[str, MethodFactory],
    *,
    method: str,
    seeds: int = 10,
    max_trials: int = 200,
    held_out: float = 0.3,
    split_seed: int = 0,
    sweep: bool = True,
) -> tuple[WorkflowPlan | None, PlanReport]:
    """Search the plan with ``method`` (seed 0), compare every method, sweep budgets."""
    if method not in methods:
        raise PlanError(f"unknown method {method!r} (known: {', '.join(methods)})")
    start = time.perf_counter()
    search_qs, held_qs = split_questions(table, held_out, split_seed)
    optimum = exhaustive(table, budget, search_qs)
    best = _run(methods[method](), table, budget, search_qs, 0, max_trials, None).best
    chosen = None if best is None else _chosen(table, best, budget, held_qs, optimum)
    plan = None if best is None else to_plan(table, best, budget, f"tts-proxy plan ({method})")
    top = optimum.score if optimum else None
    summaries = compare(table, budget, methods, seeds=seeds, max_trials=max_trials,
                        questions=search_qs, optimum=top)  # fmt: skip
    points = _sweep(table, methods[method], search_qs, max_trials) if sweep else []
    report = PlanReport(
        workflow=table.env.workflow, source=table.env.source,
        regularities=table.env.regularities, stages=table.stages,
        plans_in_space=table.size(), budget=budget, objective=OBJECTIVE,
        method=method, max_trials=max_trials, search_questions=len(search_qs),
        held_out_questions=len(held_qs), optimum=_named(table, optimum), optimum_score=top,
        chosen=chosen, methods=summaries, sweep=points,
        seconds=round(time.perf_counter() - start, 2),
    )  # fmt: skip
    return plan, report


OBJECTIVE = ("maximise the mean score per run over the search questions, subject to mean "
             "FLOPs per run <= the budget")  # fmt: skip


def _chosen(table: Table, best: Trial, budget: float, held_qs: Sequence[str],
            optimum: Trial | None) -> ChosenPlan:  # fmt: skip
    held = table.measure(best.plan, held_qs) if held_qs else None
    held_opt = exhaustive(table, budget, held_qs) if held_qs else None
    return ChosenPlan(
        plan=_named(table, best) or {}, score=best.score, flops=best.flops,
        held_out_score=held.score if held else None,
        held_out_optimum=held_opt.score if held_opt else None,
        search_optimum=optimum.score if optimum else None,
    )  # fmt: skip


def _sweep(table: Table, make: MethodFactory, questions: Sequence[str],
           max_trials: int) -> list[SweepPoint]:  # fmt: skip
    """The method's plan and the optimum at budgets across the environment's range."""
    points = []
    for share in SWEEP_SHARES:
        b = budget_at(table.env, share)
        best = _run(make(), table, b, questions, 0, max_trials, None).best
        opt = exhaustive(table, b, questions)
        points.append(SweepPoint(budget=b, chosen_score=best.score if best else None,
                                 chosen_flops=best.flops if best else None,
                                 optimum_score=opt.score if opt else None))  # fmt: skip
    return points
