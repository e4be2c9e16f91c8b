"""A workflow environment (``tts-workflow-env/1``): recorded outcomes per stage, model and
budget, which the planner searches without calling a model.

A *cell* holds one stage run with one choice (model, samples) on every question: its score,
tokens and FLOPs. Where a stage's input depends on what came before, its cells are keyed by
the upstream stages' choices as well. A plan's score on a question combines its stages'
cells (``last``: the last stage's score, which already carries the upstream's effect;
``product``: every stage must succeed); its cost is the sum of the stages' FLOPs. Scores and
costs are means over questions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tts_proxy.errors import PlanError

SCHEMA: Literal["tts-workflow-env/1"] = "tts-workflow-env/1"


class Choice(BaseModel):
    """One stage's option: a model and a number of samples."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1)
    samples: int = Field(ge=1)

    def __str__(self) -> str:
        return f"{self.model} x{self.samples}"


Allocation = tuple[Choice, ...]  # a plan in search: one choice per stage, in stage order


class StageOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    question: str
    score: float
    tokens: float = Field(ge=0)
    flops: float = Field(ge=0)


class Cell(BaseModel):
    """One stage with one choice (and, where it matters, its upstream's choices)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: str
    choice: Choice
    upstream: dict[str, Choice] = Field(default_factory=dict)
    outcomes: list[StageOutcome] = Field(min_length=1)


class WorkflowEnvironment(BaseModel):
    """Every cell of one workflow, and what the data can and cannot show."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["tts-workflow-env/1"] = Field(SCHEMA, alias="schema")
    workflow: str
    stages: list[str] = Field(min_length=1)
    combine: Literal["last", "product"] = "last"
    parameters: dict[str, float] = Field(default_factory=dict)
    cells: list[Cell]
    source: str = ""
    regularities: dict[str, str] = Field(
        default_factory=dict, description="which AgentTTS regularities the data exercises, and why"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for cell in self.cells:
            if cell.stage not in self.stages:
                raise ValueError(f"a cell names stage {cell.stage!r}, not one of {self.stages}")
            earlier = self.stages[: self.stages.index(cell.stage)]
            if any(s not in earlier for s in cell.upstream):
                raise ValueError(f"stage {cell.stage!r}: upstream must be earlier stages")
        for stage in self.stages:
            keys = {tuple(c.upstream) for c in self.cells if c.stage == stage}
            if not keys:
                raise ValueError(f"stage {stage!r} has no cells")
            if len(keys) > 1:
                raise ValueError(f"stage {stage!r}: every cell is keyed by the same upstream")
        return self

    def questions(self) -> list[str]:
        """The questions every cell holds."""
        sets = [{o.question for o in c.outcomes} for c in self.cells]
        common = set.intersection(*sets) if sets else set()
        return sorted(common)


@dataclass(frozen=True, slots=True)
class Measurement:
    """A plan's mean score and FLOPs per run over some questions (and each stage's FLOPs)."""

    score: float
    flops: float
    stage_flops: tuple[float, ...]


class Table:
    """An environment indexed for evaluation: ``measure`` answers a plan in microseconds."""

    def __init__(self, env: WorkflowEnvironment) -> None:
        self.env = env
        self.stages = list(env.stages)
        self._upstream = {
            s: next(tuple(c.upstream) for c in env.cells if c.stage == s) for s in self.stages
        }
        self._cells: dict[tuple[str, Choice, tuple[Choice, ...]], dict[str, StageOutcome]] = {}
        for c in env.cells:
            key = (c.stage, c.choice, tuple(c.upstream[u] for u in self._upstream[c.stage]))
            self._cells[key] = {o.question: o for o in c.outcomes}
        self.questions = env.questions()
        self._options = {
            s: sorted({k[1] for k in self._cells if k[0] == s}, key=lambda c: (c.model, c.samples))
            for s in self.stages
        }
        self._size = math.prod(len(o) for o in self._options.values())

    def options(self, stage: str) -> list[Choice]:
        """The choices recorded for ``stage``, by model then samples."""
        return list(self._options[stage])

    def space(self) -> list[list[Choice]]:
        return [self.options(s) for s in self.stages]

    def size(self) -> int:
        """How many plans there are (one choice per stage)."""
        return self._size

    def _stage_cells(self, plan: Allocation) -> list[dict[str, StageOutcome]] | None:
        chosen = dict(zip(self.stages, plan, strict=True))
        out = []
        for stage in self.stages:
            key = (stage, chosen[stage], tuple(chosen[u] for u in self._upstream[stage]))
            cell = self._cells.get(key)
            if cell is None:
                return None
            out.append(cell)
        return out

    def measure(
        self, plan: Allocation, questions: Collection[str] | None = None
    ) -> Measurement | None:
        """The plan's mean score and FLOPs over ``questions`` (all when None); None where the
        environment has no record of one of its stages."""
        cells = self._stage_cells(plan)
        if cells is None:
            return None
        qs = list(questions) if questions is not None else self.questions
        if not qs:
            raise PlanError("no questions to measure a plan on")
        total = 0.0
        stage_flops = [0.0] * len(cells)
        for q in qs:
            outcomes = [cell[q] for cell in cells]
            total += _combined(self.env.combine, [o.score for o in outcomes])
            for i, o in enumerate(outcomes):
                stage_flops[i] += o.flops
        n = len(qs)
        per_stage = tuple(f / n for f in stage_flops)
        return Measurement(total / n, sum(per_stage), per_stage)


def _combined(how: str, scores: Sequence[float]) -> float:
    if how == "last":
        return scores[-1]
    product = 1.0
    for s in scores:
        product *= s
    return product


def read_environment(path: Path) -> WorkflowEnvironment:
    try:
        return WorkflowEnvironment.model_validate(json.loads(path.read_text()))
    except (OSError, ValueError, ValidationError) as exc:
        raise PlanError(f"{path}: not a readable {SCHEMA} environment: {exc}") from exc


def write_environment(path: Path, env: WorkflowEnvironment) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(env.model_dump(by_alias=True)) + "\n")


def cells_of(stage: str, choice: Choice, outcomes: Iterable[StageOutcome],
             upstream: dict[str, Choice] | None = None) -> Cell:  # fmt: skip
    return Cell(stage=stage, choice=choice, upstream=upstream or {}, outcomes=list(outcomes))
