"""Workflow stages over two fake model servers: each planned stage lands on its plan's model,
controller and budget; untagged, unplanned and half-tagged requests behave as before and are
counted; FLOPs per workflow and stage reach /metrics; feedback on a run labels its stages."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.fakes import FakeModelServer, Script
from tts_proxy.api.app import create_app
from tts_proxy.backends.pool import BackendPool
from tts_proxy.service import TTSService
from tts_proxy.settings import Settings
from tts_proxy.traces import LABELS_FILE, read_records, trace_files
from tts_proxy.workflows.plan import WorkflowPlan, write_plan

pytestmark = pytest.mark.anyio
CHAT = [{"role": "user", "content": "2+2?"}]
PLAN = WorkflowPlan.model_validate({
    "workflow": "qa",
    "stages": {"draft": {"model": "small", "samples": 3},
               "answer": {"model": "large", "controller": "probe_exit", "beta": 0.5}},
})  # fmt: skip
SIZES = {"small": 1e6, "large": 1e9}


def scripts() -> list[Script]:
    return [Script(3, "4", ["4", "4", "4"]), Script(2, "4", ["4", "4"])]


@pytest.fixture
def servers() -> tuple[FakeModelServer, FakeModelServer]:
    return (FakeModelServer(scripts(), served=["small"]),
            FakeModelServer(scripts(), served=["large"]))  # fmt: skip


@pytest.fixture
async def app_client(
    servers: tuple[FakeModelServer, FakeModelServer], tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, TTSService]]:
    plans = tmp_path / "plans"
    write_plan(plans / "qa.json", PLAN)
    settings = Settings(backend_url="http://fake", chunk_tokens=8, trace_dir=tmp_path / "traces",
                        savings_file=None, plans_dir=plans, model_parameters=SIZES)  # fmt: skip
    app = create_app(settings, BackendPool(list(servers)))
    service: TTSService = app.state.service
    await service.plans.reload()  # what the lifespan does at start-up
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as c:
        yield c, service


def tagged(stage: str, run: str = "run-1", workflow: str = "qa") -> dict[str, str]:
    return {"X-TTS-Workflow": workflow, "X-TTS-Stage": stage, "X-TTS-Run": run}


def metric(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name}{{{want}}} in /metrics")


async def test_each_stage_runs_its_plans_model_controller_and_budget(
    app_client: tuple[httpx.AsyncClient, TTSService],
    servers: tuple[FakeModelServer, FakeModelServer],
) -> None:
    client, _ = app_client
    small, large = servers
    body = {"model": "whatever-the-client-says", "messages": CHAT}
    draft = await client.post("/v1/chat/completions", json=body, headers=tagged("draft"))
    assert draft.status_code == 200, draft.text
    d = draft.json()
    assert d["model"] == "small" and d["tts"]["controller"] == "sc"
    assert d["tts"]["branches"] == 3  # samples 3: self-consistency at width 3
    assert d["tts"]["workflow"] == {"workflow": "qa", "stage": "draft", "run": "run-1",
                                    "plan": "small x3"}  # fmt: skip
    assert d["tts"]["flops"] == 2 * 1e6 * d["usage"]["total_tokens"]
    assert draft.headers["x-tts-planned"] == "true" and draft.headers["x-tts-model"] == "small"
    in_body = body | {"tts": {"workflow": "qa", "stage": "answer"}}
    answer = await client.post("/v1/chat/completions", json=in_body)
    a = answer.json()
    assert a["model"] == "large" and a["tts"]["controller"] == "probe_exit"
    assert a["tts"]["beta"] == 0.5
    assert small.episode_models == ["small"] and large.episode_models == ["large"]


async def test_requests_the_plan_does_not_cover_behave_as_before_and_are_counted(
    app_client: tuple[httpx.AsyncClient, TTSService],
    servers: tuple[FakeModelServer, FakeModelServer],
) -> None:
    client, _ = app_client
    small, large = servers
    body = {"model": "large", "messages": CHAT}
    unplanned = await client.post("/v1/chat/completions", json=body, headers=tagged("review"))
    assert unplanned.json() == {"passthrough": True}  # no tts block, no plan: passthrough
    no_plan = await client.post("/v1/chat/completions",
                                json=body | {"tts": {"controller": "sc", "beta": 0}},
                                headers=tagged("s1", workflow="other-wf"))  # fmt: skip
    assert no_plan.json()["tts"]["controller"] == "sc" and no_plan.json()["model"] == "large"
    assert no_plan.json()["tts"]["workflow"]["plan"] is None
    assert large.forwarded and not small.forwarded  # routed by model
    text = (await client.get("/metrics")).text
    assert metric(text, "tts_workflow_requests_total", workflow="qa", stage="other",
                  outcome="unplanned_stage") == 1  # fmt: skip
    assert metric(text, "tts_workflow_requests_total", workflow="other", stage="other",
                  outcome="no_plan") == 1  # fmt: skip
    half = await client.post("/v1/chat/completions", json=body, headers={"X-TTS-Stage": "draft"})
    assert half.status_code == 400 and half.json()["error"]["param"] == "X-TTS-Workflow"


async def test_flops_and_tokens_per_workflow_and_stage_reach_metrics_and_traces(
    app_client: tuple[httpx.AsyncClient, TTSService], tmp_path: Path
) -> None:
    client, service = app_client
    body = {"model": "x", "messages": CHAT}
    r = await client.post("/v1/chat/completions", json=body, headers=tagged("draft", "r9"))
    tokens = r.json()["usage"]["total_tokens"]
    text = (await client.get("/metrics")).text
    assert metric(text, "tts_workflow_flops_total", workflow="qa", stage="draft",
                  model="small") == 2 * 1e6 * tokens  # fmt: skip
    assert metric(text, "tts_workflow_tokens_total", workflow="qa", stage="draft",
                  model="small") == tokens  # fmt: skip
    assert metric(text, "tts_estimated_flops_total", controller="sc", model="small") > 0
    assert metric(text, "tts_workflow_plans", verdict="served") == 1
    assert service.traces is not None
    service.traces.close()
    (record,) = read_records(trace_files(tmp_path / "traces"))
    assert (record["workflow"], record["stage"], record["run_id"]) == ("qa", "draft", "r9")
    assert record["flops"] == 2 * 1e6 * tokens


async def test_feedback_on_a_run_labels_every_stage_of_it(
    app_client: tuple[httpx.AsyncClient, TTSService], tmp_path: Path
) -> None:
    client, _ = app_client
    body = {"model": "x", "messages": CHAT}
    ids = []
    for stage in ("draft", "answer"):
        r = await client.post("/v1/chat/completions", json=body, headers=tagged(stage, "r7"))
        ids.append(r.json()["tts"]["request_id"])
    await client.post("/v1/chat/completions", json=body, headers=tagged("draft", "r8"))
    reply = await client.post("/v1/tts/feedback", json={"run_id": "r7", "score": 1.0})
    assert reply.status_code == 200 and sorted(reply.json()["labelled"]) == sorted(ids)
    labels = [
        json.loads(line) for line in (tmp_path / "traces" / LABELS_FILE).read_text().splitlines()
    ]
    assert sorted(label["request_id"] for label in labels) == sorted(ids)
    missing = await client.post("/v1/tts/feedback", json={"run_id": "nope", "score": 1.0})
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "run_id"
    both = await client.post("/v1/tts/feedback",
                             json={"run_id": "r7", "request_id": ids[0], "score": 1})  # fmt: skip
    assert both.status_code == 400


async def test_plans_are_listed_and_reloaded_by_the_admin_routes(
    app_client: tuple[httpx.AsyncClient, TTSService], tmp_path: Path
) -> None:
    client, _ = app_client
    listing = (await client.get("/admin/plans")).json()
    assert list(listing["plans"]) == ["qa"] and listing["files"][0]["served"]
    bad = WorkflowPlan.model_validate(
        {"workflow": "code", "stages": {"write": {"model": "gone", "samples": 1}}}
    )
    write_plan(tmp_path / "plans" / "code.json", bad)
    reloaded = (await client.post("/admin/plans/reload")).json()
    refused = [f for f in reloaded["files"] if not f["served"]]
    assert len(refused) == 1 and "'gone' is not served" in refused[0]["reason"]
    assert list(reloaded["plans"]) == ["qa"]


async def test_the_model_list_covers_every_server(
    app_client: tuple[httpx.AsyncClient, TTSService],
) -> None:
    client, _ = app_client
    ids = [m["id"] for m in (await client.get("/v1/models")).json()["data"]]
    assert {"small", "large"} <= set(ids) and "sc/large" in ids


async def test_explorations_run_what_they_ask_and_keep_their_tag(
    app_client: tuple[httpx.AsyncClient, TTSService],
    servers: tuple[FakeModelServer, FakeModelServer],
) -> None:
    client, _ = app_client
    small, large = servers
    tts = {"mode": "explore", "max_branches": 2, "workflow": "qa", "stage": "draft"}
    r = await client.post("/v1/chat/completions",
                          json={"model": "large", "messages": CHAT, "tts": tts})  # fmt: skip
    body = r.json()["tts"]
    assert body["controller"] == "explore" and body["model"] == "large"  # not the plan's
    assert body["workflow"] == {"workflow": "qa", "stage": "draft", "run": None, "plan": None}
    assert large.episode_models == ["large"] and not small.episode_models
    text = (await client.get("/metrics")).text
    assert metric(text, "tts_workflow_requests_total", workflow="qa", stage="draft",
                  outcome="explore") == 1  # fmt: skip


async def test_a_block_that_only_tags_asks_for_no_search(
    app_client: tuple[httpx.AsyncClient, TTSService],
) -> None:
    client, _ = app_client
    tts = {"workflow": "qa", "stage": "review"}  # a stage the plan does not name
    r = await client.post("/v1/chat/completions",
                          json={"model": "large", "messages": CHAT, "tts": tts})  # fmt: skip
    assert r.json() == {"passthrough": True}  # as the same request untagged


async def test_a_plan_wider_than_the_server_allows_is_refused(
    app_client: tuple[httpx.AsyncClient, TTSService], tmp_path: Path
) -> None:
    _, service = app_client
    wide = WorkflowPlan.model_validate(
        {"workflow": "wide", "stages": {"s": {"model": "small", "samples": 64}}}
    )
    write_plan(tmp_path / "plans" / "wide.json", wide)
    listing = await service.plans.reload()
    (refused,) = [f for f in listing["files"] if not f["served"]]
    assert "64 samples is more than this server's max_branches (8)" in refused["reason"]
