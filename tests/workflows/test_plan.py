"""Plans, tags and the plan book: what is served, and what is refused with a clear reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from tts_proxy.api.headers import read_headers
from tts_proxy.errors import InvalidRequestError, PlanError
from tts_proxy.workflows.book import PlanBook, check_plan
from tts_proxy.workflows.plan import StagePlan, WorkflowPlan, parse_plan, write_plan
from tts_proxy.workflows.tags import TagFields, WorkflowTag, workflow_tag

MODELS = {"small", "large"}
CONTROLLERS = {"sc", "cmc", "probe_exit"}


def plan(workflow: str = "qa", **stages: dict[str, object]) -> WorkflowPlan:
    stages = stages or {"draft": {"model": "small", "samples": 2}}
    return WorkflowPlan.model_validate({"workflow": workflow, "stages": stages})


@pytest.mark.parametrize(
    "stage",
    [
        {"model": "small"},  # no budget
        {"model": "small", "beta": 0.5, "samples": 2},  # two budgets
        {"model": "small", "controller": "cmc", "samples": 4},  # samples are sc's
        {"model": "small", "beta": 1.5, "controller": "cmc"},
        {"model": "small", "samples": 0},
        {"model": "", "samples": 1},
        {"model": "small", "samples": 1, "extra": True},
    ],
)
def test_a_stage_states_exactly_one_budget(stage: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        StagePlan.model_validate(stage)


def test_samples_run_self_consistency_at_that_width() -> None:
    stage = StagePlan(model="small", samples=4)
    assert (stage.controller_name, stage.search_beta) == ("sc", 1.0)
    assert StagePlan(model="m", controller="cmc", beta=0.3).search_beta == 0.3


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "-lead", "é"])
def test_workflow_and_stage_names_are_bounded_labels(name: str) -> None:
    with pytest.raises(ValidationError):
        plan(workflow=name)
    with pytest.raises(ValidationError):
        WorkflowPlan.model_validate(
            {"workflow": "w", "stages": {name: {"model": "small", "samples": 1}}}
        )


def test_a_broken_plan_file_says_what_is_wrong() -> None:
    with pytest.raises(PlanError, match="not a valid"):
        parse_plan(b"{not json", "p.json")
    with pytest.raises(PlanError, match=r"stages\.draft"):
        parse_plan(json.dumps({"workflow": "w", "stages": {"draft": {"model": "m"}}}), "p.json")


def test_a_plan_round_trips_through_its_file(tmp_path: Path) -> None:
    p = plan(draft={"model": "small", "samples": 2},
             answer={"model": "large", "controller": "cmc", "beta": 0.5})  # fmt: skip
    write_plan(tmp_path / "qa.json", p)
    assert parse_plan((tmp_path / "qa.json").read_bytes()) == p


def test_checking_names_the_stage_and_what_is_missing() -> None:
    with pytest.raises(PlanError, match=r"stage 'draft'.*'tiny' is not served.*large, small"):
        check_plan(plan(draft={"model": "tiny", "samples": 1}), MODELS, CONTROLLERS)
    with pytest.raises(PlanError, match=r"stage 'answer'.*unknown controller 'magic'"):
        check_plan(plan(answer={"model": "large", "controller": "magic", "beta": 0.2}),
                   MODELS, CONTROLLERS)  # fmt: skip
    ok = plan(answer={"model": "large", "beta": 0.2})  # the server's default controller
    assert check_plan(ok, MODELS, CONTROLLERS) is ok


def test_the_book_serves_valid_plans_and_says_why_it_refuses_the_others(tmp_path: Path) -> None:
    write_plan(tmp_path / "a.json", plan("qa"))
    write_plan(tmp_path / "b.json", plan("qa", draft={"model": "large", "samples": 1}))
    write_plan(tmp_path / "c.json", plan("code", write={"model": "nowhere", "samples": 1}))
    (tmp_path / "d.json").write_text("[]")
    book = PlanBook(tmp_path)
    book.reload(MODELS, CONTROLLERS)
    assert list(book.plans) == ["qa"]
    reasons = {Path(f.path).name: f.reason for f in book.files}
    assert reasons["a.json"] is None
    assert "already has a plan" in str(reasons["b.json"])
    assert "'nowhere' is not served" in str(reasons["c.json"])
    assert "not a valid" in str(reasons["d.json"])
    assert book.stage(WorkflowTag("qa", "draft")) == StagePlan(model="small", samples=2)
    assert book.stage(WorkflowTag("qa", "review")) is None
    assert book.knows(WorkflowTag("qa", "review")) == (True, False)
    assert book.knows(WorkflowTag("code", "write")) == (False, False)


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    book = PlanBook(tmp_path)
    book.reload(MODELS, CONTROLLERS)
    before = book.versions()
    write_plan(tmp_path / "qa.json", plan("qa"))
    assert book.versions() != before
    book.reload(MODELS, CONTROLLERS)
    assert "qa" in book.plans


def test_tags_come_from_the_body_or_the_headers() -> None:
    headers = {"x-tts-workflow": "qa", "x-tts-stage": "draft", "x-tts-run": "r1"}
    assert workflow_tag(None, read_headers(headers).tag) == WorkflowTag("qa", "draft", "r1")
    body = TagFields(workflow="code", stage="test")
    assert workflow_tag(body, read_headers(headers).tag) == WorkflowTag("code", "test", "r1")
    assert workflow_tag(None, read_headers({}).tag) is None


@pytest.mark.parametrize(
    ("body", "headers", "param"),
    [
        ({}, {"x-tts-stage": "draft"}, "X-TTS-Workflow"),
        ({}, {"x-tts-workflow": "qa"}, "X-TTS-Stage"),
        ({}, {"x-tts-run": "r"}, "X-TTS-Run"),
        ({}, {"x-tts-workflow": "q a", "x-tts-stage": "s"}, "X-TTS-Workflow"),
        ({}, {"x-tts-workflow": "qa", "x-tts-stage": "s", "x-tts-run": "r" * 200}, "X-TTS-Run"),
        ({}, {"x-tts-workflow": "qa", "x-tts-stage": "s", "x-tts-run": "run-\u00e9"},
         "X-TTS-Run"),
        ({"stage": "draft"}, {}, "tts.workflow"),
        ({"workflow": "qa\n", "stage": "s"}, {}, "tts.workflow"),  # "$" let this through
        ({"workflow": "qa", "stage": "s", "run": "r" * 200}, {}, "tts.run"),
        ({"workflow": "qa", "stage": "s", "run": "r\u00e9"}, {}, "tts.run"),
        ({"workflow": "qa"}, {"x-tts-stage": "a b"}, "X-TTS-Stage"),
    ],
)  # fmt: skip
def test_a_half_or_malformed_tag_is_a_clear_error_naming_where_it_came_from(
    body: dict[str, str], headers: dict[str, str], param: str
) -> None:
    with pytest.raises(InvalidRequestError) as info:
        workflow_tag(TagFields(**body), read_headers(headers).tag)
    assert info.value.param == param


def test_a_workflow_definition_beside_the_plans_checks_their_stages(tmp_path: Path) -> None:
    definition = {"workflow": "qa", "stages": [
        {"name": "draft", "prompt": "{question}", "models": ["small"]},
        {"name": "answer", "prompt": "{question} {draft}", "models": ["large"]},
    ]}  # fmt: skip
    (tmp_path / "qa.workflow.json").write_text(json.dumps(definition))
    write_plan(tmp_path / "qa.json", plan("qa", review={"model": "small", "samples": 1}))
    book = PlanBook(tmp_path)
    book.reload(MODELS, CONTROLLERS)
    (verdict,) = book.files  # the definition itself is not a plan file
    assert "'review' is not a stage of workflow 'qa' (its stages: draft, answer)" in str(
        verdict.reason
    )
    write_plan(tmp_path / "qa.json", plan("qa", draft={"model": "small", "samples": 1}))
    book.reload(MODELS, CONTROLLERS)
    assert "qa" in book.plans  # a plan may leave stages out: those run as if unplanned
