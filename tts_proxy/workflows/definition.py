"""A workflow's definition (``tts-workflow/1``): its stages in order, each a prompt template
and its candidate models -- what ``collect --workflow`` explores, and what a plan for the
workflow is checked against."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tts_proxy.errors import PlanError
from tts_proxy.workflows.plan import check_name

SCHEMA: Literal["tts-workflow/1"] = "tts-workflow/1"
_FIELD = re.compile(r"\{([A-Za-z0-9_.:-]+)\}")


class StageSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    prompt: str = Field(min_length=1)
    models: list[str] = Field(min_length=1)


class WorkflowSpec(BaseModel):
    """A workflow to explore: its stages, the exploration width and its length cap."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["tts-workflow/1"] = Field(SCHEMA, alias="schema")
    workflow: str
    stages: list[StageSpec] = Field(min_length=1)
    width: int = Field(8, ge=1, le=64, description="branches per exploration")
    max_tokens: int | None = Field(None, gt=0, description="length cap of each branch")
    upstream_answers: int = Field(3, ge=1, le=16, description="upstream answers explored")

    @model_validator(mode="after")
    def _fields(self) -> Self:
        check_name("workflow", self.workflow)
        for i, stage in enumerate(self.stages):
            check_name("stage", stage.name)
            allowed = {"question"} | ({self.stages[i - 1].name} if i else set())
            # Only stage names are fields: other braces (LaTeX's \\boxed{}) are text.
            wrong = set(_FIELD.findall(stage.prompt)) & {s.name for s in self.stages} - allowed
            if wrong:
                raise ValueError(f"stage {stage.name!r} may use {sorted(allowed)}, "
                                 f"not {sorted(wrong)}")  # fmt: skip
        return self


def read_spec(path: Path) -> WorkflowSpec:
    try:
        return WorkflowSpec.model_validate(json.loads(path.read_text()))
    except (OSError, ValueError, ValidationError) as exc:
        raise PlanError(f"{path}: not a readable {SCHEMA} workflow: {exc}") from exc


def fill(template: str, question: str, upstream: tuple[str, str] | None) -> str:
    """The prompt: ``{question}`` and the previous stage's ``{name}`` replaced (nothing else
    is touched: a template may hold LaTeX braces)."""
    text = template.replace("{question}", question)
    if upstream is not None:
        text = text.replace("{" + upstream[0] + "}", upstream[1])
    return text
