"""Which workflow, stage and run a request belongs to: from ``tts`` or ``X-TTS-*`` headers."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from tts_proxy.errors import InvalidRequestError
from tts_proxy.workflows.plan import check_name

WORKFLOW_HEADER = "x-tts-workflow"
STAGE_HEADER = "x-tts-stage"
RUN_HEADER = "x-tts-run"
MAX_RUN_ID = 128
TAG_FIELDS = frozenset({"workflow", "stage", "run"})


@dataclass(frozen=True, slots=True)
class WorkflowTag:
    """A request's place in a workflow. ``run`` joins the stages of one run (feedback on it
    labels them all)."""

    workflow: str
    stage: str
    run: str | None = None


class TagFields(BaseModel):
    """The ``tts`` block's fields that tag a request (the headers say the same)."""

    workflow: str | None = None
    stage: str | None = None
    run: str | None = None


def _checked(kind: str, value: str, param: str) -> str:
    try:
        return check_name(kind, value)
    except ValueError as exc:
        raise InvalidRequestError(str(exc), param=param) from None


def workflow_tag(fields: TagFields | None, headers: TagFields | None) -> WorkflowTag | None:
    """The request's tag (body first, then headers), or None when untagged; a stage without
    a workflow, or a malformed name, is a 400."""
    body, head = fields or TagFields(), headers or TagFields()
    workflow = body.workflow or head.workflow
    stage = body.stage or head.stage
    run = body.run or head.run
    if workflow is None and stage is None:
        if run is not None:
            raise InvalidRequestError("a run id needs a workflow and a stage", param="X-TTS-Run")
        return None
    if workflow is None or stage is None:
        missing = "workflow" if workflow is None else "stage"
        raise InvalidRequestError(
            f"a workflow request names both its workflow and its stage ({missing} missing)",
            param=f"tts.{missing}",
        )
    if run is not None and not 0 < len(run) <= MAX_RUN_ID:
        raise InvalidRequestError(f"a run id is 1-{MAX_RUN_ID} characters", param="X-TTS-Run")
    return WorkflowTag(
        _checked("workflow", workflow, "tts.workflow"), _checked("stage", stage, "tts.stage"), run
    )
