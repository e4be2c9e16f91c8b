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
    a workflow, or a malformed name, is a 400 naming the field or header it came from."""
    body, head = fields or TagFields(), headers or TagFields()
    workflow = body.workflow or head.workflow
    stage = body.stage or head.stage
    run = body.run or head.run

    by_header = not (body.workflow or body.stage or body.run)

    def param(name: str) -> str:  # where the field came from (a missing one: where its kin did)
        if getattr(body, name):
            return f"tts.{name}"
        return f"X-TTS-{name.title()}" if getattr(head, name) or by_header else f"tts.{name}"

    if workflow is None and stage is None:
        if run is not None:
            raise InvalidRequestError("a run id needs a workflow and a stage", param=param("run"))
        return None
    if workflow is None or stage is None:
        missing = "workflow" if workflow is None else "stage"
        raise InvalidRequestError(
            f"a workflow request names both its workflow and its stage ({missing} missing)",
            param=param(missing),
        )
    # Printable ASCII: a header carries no other text whole (HTTP reads it as latin-1), and a
    # run id must be the same id whichever way it came.
    if run is not None and not (0 < len(run) <= MAX_RUN_ID and run.isascii() and run.isprintable()):
        raise InvalidRequestError(f"a run id is 1-{MAX_RUN_ID} printable ASCII characters",
                                  param=param("run"))  # fmt: skip
    return WorkflowTag(
        _checked("workflow", workflow, param("workflow")), _checked("stage", stage, param("stage")),
        run,
    )  # fmt: skip
