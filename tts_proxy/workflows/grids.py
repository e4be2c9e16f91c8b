"""Environments to plan on: AgentTTS-style CSV grids, a cascade built from replay files of
several models, and synthetic grids with a known structure (for tests and benchmarks).

Each builder says which of AgentTTS's three regularities its data can exercise: (1) each
stage has its own preferred model, (2) returns from more samples saturate past a
stage-specific budget, (3) a later stage's best allocation depends on the earlier stages.
"""

from __future__ import annotations

import asyncio
import csv
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tts_proxy.controllers.base import Limits
from tts_proxy.controllers.sc import SelfConsistency
from tts_proxy.errors import PlanError
from tts_proxy.replay.environment import ReplayQuestion
from tts_proxy.replay.evaluate import is_correct, ordering, replay_one
from tts_proxy.workflows.environment import Cell, Choice, StageOutcome, WorkflowEnvironment
from tts_proxy.workflows.flops import flops

DEFAULT_SAMPLES = (1, 2, 4, 8, 16, 32, 64)
ALL = "all"  # the one "question" of a grid that records only aggregate metrics


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


# --- AgentTTS-style CSV grids -------------------------------------------------------------


def from_csv(path: Path, *, workflow: str | None = None,
             parameters: Mapping[str, float] | None = None) -> WorkflowEnvironment:  # fmt: skip
    """A grid with one row per plan: ``<stage>_model`` and ``<stage>_samples`` for each stage
    (in column order), ``score``, and the cost as ``flops`` or per stage ``<stage>_tokens``
    (FLOPs from ``parameters``). Only aggregate scores: there are no held-out questions."""
    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise PlanError(f"cannot read {path}: {exc.strerror}") from exc
    if not rows:
        raise PlanError(f"{path}: no rows")
    columns = list(rows[0])
    stages = [c[: -len("_model")] for c in columns if c.endswith("_model")]
    missing = [f"{s}_samples" for s in stages if f"{s}_samples" not in columns]
    if not stages or missing or "score" not in columns:
        absent = (
            missing
            + ([] if stages else ["<stage>_model"])
            + ([] if "score" in columns else ["score"])
        )
        raise PlanError(f"{path}: needs <stage>_model, <stage>_samples and score columns "
                        f"(missing: {', '.join(absent)})")  # fmt: skip
    sizes = dict(parameters or {})
    by_tokens = all(f"{s}_tokens" in columns for s in stages)
    if "flops" not in columns and not by_tokens:
        raise PlanError(f"{path}: give a flops column, or <stage>_tokens with model parameters")
    stage_cost: dict[tuple[str, Choice], list[float]] = {}
    last_cells: dict[tuple[Choice, ...], tuple[float, float]] = {}
    for n, row in enumerate(rows, start=2):
        try:
            plan = tuple(Choice(model=row[f"{s}_model"], samples=int(row[f"{s}_samples"]))
                         for s in stages)  # fmt: skip
            score = float(row["score"])
            if by_tokens:
                costs = [_priced(sizes, c.model, float(row[f"{s}_tokens"]), path)
                         for s, c in zip(stages, plan, strict=True)]  # fmt: skip
            else:
                costs = [0.0] * (len(stages) - 1) + [float(row["flops"])]
        except (ValueError, KeyError) as exc:
            raise PlanError(f"{path}: line {n}: {exc}") from exc
        for s, c, cost in zip(stages[:-1], plan[:-1], costs[:-1], strict=True):
            stage_cost.setdefault((s, c), []).append(cost)
        last_cells[plan] = (score, costs[-1])
    cells = [Cell(stage=s, choice=c, outcomes=[StageOutcome(question=ALL, score=1.0,
                  tokens=0, flops=_mean(v))]) for (s, c), v in stage_cost.items()]  # fmt: skip
    for plan, (score, cost) in last_cells.items():
        upstream = dict(zip(stages[:-1], plan[:-1], strict=True))
        outcome = StageOutcome(question=ALL, score=score, tokens=0, flops=cost)
        cells.append(Cell(stage=stages[-1], choice=plan[-1], upstream=upstream,
                          outcomes=[outcome]))  # fmt: skip
    return WorkflowEnvironment(
        workflow=workflow or path.stem, stages=stages, combine="last", parameters=sizes,
        cells=cells, source=str(path),
        regularities={"all": "as measured by whoever ran the grid (every plan's joint score "
                      "is recorded, so stage interactions are in the data if they exist)"},
    )  # fmt: skip


def _priced(sizes: Mapping[str, float], model: str, tokens: float, path: Path) -> float:
    if model not in sizes:
        raise PlanError(f"{path}: no parameter count for model {model!r} (give --parameters)")
    return flops(sizes[model], tokens)


# --- A cascade from replay files of several models ----------------------------------------

CASCADE_STAGES = ("draft", "escalate")


@dataclass(frozen=True, slots=True)
class _Run:
    correct: bool
    tokens: int
    settled: bool  # two or more samples, all with the same answer


def _runs(questions: Sequence[ReplayQuestion], samples: int, repeats: int,
          offset: int) -> list[list[_Run]]:  # fmt: skip
    """Self-consistency at width ``samples`` on every question, ``repeats`` orderings each
    (``offset`` picks an independent family of orderings): replayed by the one engine (in
    an event loop of its own: call it from synchronous code)."""

    async def run_all() -> list[list[_Run]]:
        out = []
        for qi, q in enumerate(questions):
            limits = Limits(max_branches=samples, chunk_tokens=q.chunk_tokens)
            runs = []
            for r in range(repeats):
                order = ordering(qi, offset + r, len(q.branches), None, seed=0)
                result = await replay_one(SelfConsistency, q, 1.0, limits, order)
                keys = {b.key for b in result.branches}
                settled = len(result.branches) >= 2 and len(keys) == 1 and None not in keys
                runs.append(_Run(is_correct(result.answer, q.label), result.tokens, settled))
            out.append(runs)
        return out

    return asyncio.run(run_all())


def cascade_from_replay(
    models: Mapping[str, Sequence[ReplayQuestion]],
    parameters: Mapping[str, float],
    *,
    samples: Sequence[int] = DEFAULT_SAMPLES,
    repeats: int = 8,
    workflow: str = "cascade",
) -> WorkflowEnvironment:
    """A two-stage cascade on real trajectories of several models on the same questions:
    ``draft`` answers with k1 samples of one model; unless k1 >= 2 and all of them give one
    answer, ``escalate`` answers instead with k2 samples of a model (its own majority). The
    score is the cascade's final answer's correctness, averaged over orderings; the cost is
    2 x parameters x generated tokens (prompts are not in the replay data). Sample counts
    above the fewest trajectories any question has are left out. The live proxy has no such
    gate: a served cascade plan runs both stages unless the client skips the second on a
    settled draft (the ``votes`` in its ``tts`` summary say so)."""
    names = sorted(models)
    fewest = min(len(q.branches) for qs in models.values() for q in qs)
    samples = [k for k in samples if k <= fewest]
    if not samples:
        raise PlanError(f"every sample count is above the {fewest} trajectories recorded")
    ids = [q.question for q in models[names[0]]]
    for name in names:
        if [q.question for q in models[name]] != ids:
            raise PlanError(f"the replay files must hold the same questions ({name} differs)")
        if name not in parameters:
            raise PlanError(f"no parameter count for model {name!r}")
    first = {(m, k): _runs(models[m], k, repeats, 0) for m in names for k in samples}
    second = {(m, k): _runs(models[m], k, repeats, repeats) for m in names for k in samples}
    qids = [f"q{i}" for i in range(len(ids))]
    cells = []
    for (m1, k1), runs1 in first.items():
        draft = Choice(model=m1, samples=k1)
        cells.append(Cell(stage="draft", choice=draft, outcomes=[
            StageOutcome(question=qid, score=_mean([r.correct for r in rs]),
                         tokens=_mean([r.tokens for r in rs]),
                         flops=flops(parameters[m1], _mean([r.tokens for r in rs])))
            for qid, rs in zip(qids, runs1, strict=True)
        ]))  # fmt: skip
        for (m2, k2), runs2 in second.items():
            outcomes = []
            for qid, rs1, rs2 in zip(qids, runs1, runs2, strict=True):
                score = _mean([a.correct if a.settled else b.correct
                               for a, b in zip(rs1, rs2, strict=True)])  # fmt: skip
                tokens = _mean(
                    [0 if a.settled else b.tokens for a, b in zip(rs1, rs2, strict=True)]
                )
                outcomes.append(StageOutcome(question=qid, score=score, tokens=tokens,
                                             flops=flops(parameters[m2], tokens)))  # fmt: skip
            cells.append(Cell(stage="escalate", choice=Choice(model=m2, samples=k2),
                              upstream={"draft": draft}, outcomes=outcomes))  # fmt: skip
    return WorkflowEnvironment(
        workflow=workflow, stages=list(CASCADE_STAGES), combine="last",
        parameters=dict(parameters), cells=cells,
        source=f"replay cascade over {', '.join(names)} ({len(ids)} questions, "
               f"{repeats} orderings)",
        regularities={
            "preferred_model": "exercised: the stages weigh model size against samples on "
                               "real trajectories of each model",
            "saturation": "exercised: self-consistency's accuracy saturates in samples",
            "interaction": "exercised: how often escalate runs, and on which questions, "
                           "depends on the draft's model and samples",
            "caveat": "both stages answer the same questions (a cascade, not a pipeline "
                      "whose stages do different work); one benchmark (AIME24)",
        },
    )  # fmt: skip


# --- Synthetic grids with a known structure -----------------------------------------------

SYNTHETIC_MODELS = {"small-1b": 1e9, "mid-3b": 3e9, "large-8b": 8e9}


def synthetic(
    seed: int,
    *,
    stages: Sequence[str] = ("retrieve", "reason", "answer"),
    models: Mapping[str, float] = SYNTHETIC_MODELS,
    samples: Sequence[int] = (1, 2, 4, 8, 16),
) -> WorkflowEnvironment:
    """A generated workflow with all three regularities built in: per stage, how much a
    larger model helps is drawn (so the preferred model differs by stage); quality
    saturates in samples as 1 - (1 - p)^k; and a stage's score scales with the quality of
    the stage before it (its cells are keyed by that stage's choice). The workflow
    succeeds when every stage does (``product``)."""
    rng = random.Random(seed)
    ranked = sorted(models, key=models.__getitem__)
    quality: dict[tuple[str, Choice], float] = {}
    tokens: dict[str, float] = {}
    for stage in stages:
        base, gain = rng.uniform(0.45, 0.7), rng.uniform(0.0, 0.35)
        tokens[stage] = rng.uniform(100, 500)
        for rank, model in enumerate(ranked):
            cap = min(0.99, base + gain * rank / max(1, len(ranked) - 1))
            p = rng.uniform(0.2, 0.6)
            for k in samples:
                quality[(stage, Choice(model=model, samples=k))] = cap * (1 - (1 - p) ** k)
    dependence = {s: rng.uniform(0.3, 0.8) for s in stages}
    options = [Choice(model=m, samples=k) for m in ranked for k in samples]
    cells = []
    for i, stage in enumerate(stages):
        for c in options:
            cost = flops(models[c.model], tokens[stage] * c.samples)
            if i == 0:
                cells.append(_one(stage, c, quality[(stage, c)], cost, tokens[stage] * c.samples))
                continue
            prev, a = stages[i - 1], dependence[stage]
            for u in options:
                score = quality[(stage, c)] * (1 - a + a * quality[(prev, u)])
                cells.append(_one(stage, c, score, cost, tokens[stage] * c.samples, {prev: u}))
    return WorkflowEnvironment(
        workflow=f"synthetic-{seed}", stages=list(stages), combine="product",
        parameters=dict(models), cells=cells, source=f"synthetic(seed={seed})",
        regularities={"preferred_model": "built in", "saturation": "built in",
                      "interaction": "built in (each stage scales with the one before)"},
    )  # fmt: skip


def _one(stage: str, choice: Choice, score: float, cost: float, tokens: float,
         upstream: dict[str, Choice] | None = None) -> Cell:  # fmt: skip
    outcome = StageOutcome(question=ALL, score=score, tokens=tokens, flops=cost)
    return Cell(stage=stage, choice=choice, upstream=upstream or {}, outcomes=[outcome])


def budget_at(env: WorkflowEnvironment, share: float) -> float:
    """A FLOPs budget at ``share`` of the way (on a log scale) from the cheapest plan's
    cost to the dearest plan's."""
    from tts_proxy.workflows.environment import Table

    table = Table(env)
    cheapest = dearest = 0.0
    for stage, options in zip(table.stages, table.space(), strict=True):
        costs = [_stage_cost(env, stage, c) for c in options]
        cheapest += min(costs)
        dearest += max(costs)
    low, high = math.log(max(cheapest, 1.0)), math.log(max(dearest, 1.0))
    return math.exp(low + share * (high - low))


def _stage_cost(env: WorkflowEnvironment, stage: str, choice: Choice) -> float:
    costs = [_mean([o.flops for o in c.outcomes]) for c in env.cells
             if c.stage == stage and c.choice == choice]  # fmt: skip
    return max(costs)
