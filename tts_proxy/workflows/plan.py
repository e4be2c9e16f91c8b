"""A workflow's allocation plan (``tts-plan/1``): per stage, the model and the budget.

A stage's budget is a controller and a beta, or a fixed number of samples (self-consistency
at that width). Plans are files an operator (or ``tts-proxy plan``) writes; the proxy serves
the one per workflow found in its plans directory.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tts_proxy.errors import PlanError

SCHEMA: Literal["tts-plan/1"] = "tts-plan/1"
SAMPLES_CONTROLLER = "sc"  # a fixed number of samples is self-consistency at that width
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def check_name(kind: str, value: str) -> str:
    """A workflow or stage name: short, printable, no spaces (it becomes a metric label)."""
    if not NAME.fullmatch(value):  # fullmatch: "$" would let a trailing newline through
        raise ValueError(f"{kind} {value!r} must be 1-64 letters, digits or _ . : - "
                         "(starting with a letter or digit)")  # fmt: skip
    return value


class StagePlan(BaseModel):
    """What one stage runs: a model, and a controller with a beta -- or a number of samples."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1)
    controller: str | None = None
    beta: float | None = Field(None, ge=0.0, le=1.0)
    samples: int | None = Field(None, ge=1, le=1024)

    @model_validator(mode="after")
    def _one_budget(self) -> Self:
        if (self.beta is None) == (self.samples is None):
            raise ValueError("a stage gives either beta (with a controller) or samples")
        if self.samples is not None and self.controller not in (None, SAMPLES_CONTROLLER):
            raise ValueError(f"samples means self-consistency ({SAMPLES_CONTROLLER!r}); "
                             "give a beta for another controller")  # fmt: skip
        return self

    @property
    def controller_name(self) -> str | None:
        """The controller this stage runs (None: the server's default)."""
        return SAMPLES_CONTROLLER if self.samples is not None else self.controller

    @property
    def search_beta(self) -> float | None:
        """The beta the search runs at: a fixed width is self-consistency at beta 1."""
        return 1.0 if self.samples is not None else self.beta

    def describe(self) -> str:
        if self.samples is not None:
            return f"{self.model} x{self.samples}"
        return f"{self.model} {self.controller or 'default'}@{self.beta:g}"


class WorkflowPlan(BaseModel):
    """Every stage of one workflow, and what the plan was chosen for (when searched)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_: Literal["tts-plan/1"] = Field(SCHEMA, alias="schema")
    workflow: str
    stages: dict[str, StagePlan] = Field(min_length=1)
    flops_budget: float | None = Field(None, gt=0, description="per run, when searched")
    expected_score: float | None = None
    expected_flops: float | None = None
    source: str | None = Field(None, description="what chose it (the planner's report)")

    @model_validator(mode="after")
    def _names(self) -> Self:
        check_name("workflow", self.workflow)
        for stage in self.stages:
            check_name("stage", stage)
        return self

    def models(self) -> set[str]:
        return {s.model for s in self.stages.values()}

    def describe(self) -> str:
        return "; ".join(f"{name}: {s.describe()}" for name, s in self.stages.items())


def parse_plan(data: bytes | str, origin: str = "plan") -> WorkflowPlan:
    """A plan from JSON text; ``PlanError`` saying what is wrong."""
    try:
        return WorkflowPlan.model_validate(json.loads(data))
    except (ValueError, ValidationError) as exc:  # JSONDecodeError is a ValueError
        raise PlanError(f"{origin}: not a valid {SCHEMA} plan: {_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'plan'}: {e['msg']}" for e in exc.errors()
        )
    return str(exc)


def write_plan(path: Path, plan: WorkflowPlan) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(plan.model_dump(by_alias=True, exclude_none=True), indent=2)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text + "\n")
    tmp.replace(path)  # a reloading proxy never reads half a file
