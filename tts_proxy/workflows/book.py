"""The active plans: one per workflow, read from a plans directory and re-read on change.

Every ``*.json`` file is a plan (``tts-plan/1``), except ``<workflow>.workflow.json``: the
workflow's definition (``tts-workflow/1``, what ``collect --workflow`` explores), against
which that workflow's plan is checked. A plan is served only when it parses, names only
stages of its workflow (when defined), and each stage's model is served by a backend and its
controller is known; otherwise its reason is kept (``files``) and the workflow runs as if it
had no plan. Two files for one workflow: the first by name is served, the other refused.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from tts_proxy.errors import PlanError
from tts_proxy.watched import FileVersion, file_versions
from tts_proxy.workflows.definition import read_spec
from tts_proxy.workflows.plan import StagePlan, WorkflowPlan, parse_plan
from tts_proxy.workflows.tags import WorkflowTag


@dataclass(frozen=True, slots=True)
class PlanFile:
    """One file's verdict: its plan when served, else why not."""

    path: str
    plan: WorkflowPlan | None
    reason: str | None = None


DEFINITION = ".workflow.json"


def check_plan(
    plan: WorkflowPlan,
    models: Collection[str],
    controllers: Collection[str],
    stages: Collection[str] | None = None,
    max_samples: int | None = None,
) -> WorkflowPlan:
    """``plan`` if every stage is one of ``stages`` (when given), names a served model and a
    known controller, and asks for at most ``max_samples`` samples (the server's width cap);
    else ``PlanError`` naming the stage and what is wrong."""
    for name, stage in plan.stages.items():
        if max_samples is not None and stage.samples is not None and stage.samples > max_samples:
            raise PlanError(f"stage {name!r}: {stage.samples} samples is more than this "
                            f"server's max_branches ({max_samples})")  # fmt: skip
        if stages is not None and name not in stages:
            raise PlanError(f"stage {name!r} is not a stage of workflow {plan.workflow!r} "
                            f"(its stages: {', '.join(stages)})")  # fmt: skip
        if stage.model not in models:
            raise PlanError(f"stage {name!r}: model {stage.model!r} is not served by any "
                            f"backend (served: {', '.join(sorted(models)) or 'none'})")  # fmt: skip
        controller = stage.controller_name
        if controller is not None and controller not in controllers:
            raise PlanError(f"stage {name!r}: unknown controller {controller!r} "
                            f"(known: {', '.join(sorted(controllers))})")  # fmt: skip
    return plan


class PlanBook:
    """The plans of ``directory`` (none when it is None), by workflow."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.files: list[PlanFile] = []
        self._plans: dict[str, WorkflowPlan] = {}

    def versions(self) -> list[FileVersion]:
        if self.directory is None or not self.directory.is_dir():
            return []
        return file_versions(self.directory.glob("*.json"))  # definitions too: they check plans

    def reload(self, models: Collection[str], controllers: Collection[str],
               max_samples: int | None = None) -> None:  # fmt: skip
        """Read every plan file again, checked against the models and controllers served
        and the server's width cap."""
        files, plans = [], {}
        for path_text, _, _ in self.versions():
            path = Path(path_text)
            if path.name.endswith(DEFINITION):
                continue
            try:
                plan = parse_plan(path.read_bytes(), path.name)
                stages = self._stages(plan.workflow)
                plan = check_plan(plan, models, controllers, stages, max_samples)
            except (OSError, PlanError) as exc:
                files.append(PlanFile(path_text, None, str(exc)))
                continue
            if plan.workflow in plans:
                why = f"workflow {plan.workflow!r} already has a plan (an earlier file)"
                files.append(PlanFile(path_text, None, why))
                continue
            plans[plan.workflow] = plan
            files.append(PlanFile(path_text, plan))
        self.files, self._plans = files, plans

    def _stages(self, workflow: str) -> list[str] | None:
        """The stages the workflow's definition names, if the directory holds one."""
        assert self.directory is not None
        definition = self.directory / f"{workflow}{DEFINITION}"
        if not definition.is_file():
            return None
        return [s.name for s in read_spec(definition).stages]

    @property
    def plans(self) -> dict[str, WorkflowPlan]:
        return dict(self._plans)

    def stage(self, tag: WorkflowTag) -> StagePlan | None:
        """The plan's stage for a tagged request (None: no plan, or a stage it does not name)."""
        plan = self._plans.get(tag.workflow)
        return None if plan is None else plan.stages.get(tag.stage)

    def knows(self, tag: WorkflowTag) -> tuple[bool, bool]:
        """Whether the workflow has a plan, and whether that plan names the stage: the
        bounded metric labels of a tag (anything else is counted as ``other``)."""
        plan = self._plans.get(tag.workflow)
        return plan is not None, plan is not None and tag.stage in plan.stages
