"""A two-stage workflow over two real vLLM servers (SmolLM2 under two names), sent with the
official openai client: each stage lands on its plan's model -- the server that serves it --
with its plan's controller, and /metrics shows FLOPs per workflow and stage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.e2e.conftest import MODEL, e2e_settings, generation_tokens, running_vllm
from tests.servers import ServedApp
from tts_proxy.api.app import create_app
from tts_proxy.backends.pool import BackendPool
from tts_proxy.backends.vllm import VLLMBackend
from tts_proxy.cli import main
from tts_proxy.embedded.server import EmbeddedVLLM
from tts_proxy.workflows.definition import WorkflowSpec
from tts_proxy.workflows.explore import read_log
from tts_proxy.workflows.flops import count_parameters
from tts_proxy.workflows.plan import WorkflowPlan, write_plan

pytestmark = pytest.mark.e2e
SECOND = "smollm2-b"
PLAN = WorkflowPlan.model_validate({
    "workflow": "qa",
    "stages": {"draft": {"model": MODEL, "samples": 2},
               "answer": {"model": SECOND, "controller": "probe_exit", "beta": 0.5}},
})  # fmt: skip


@pytest.fixture(scope="module")
def second_vllm() -> Iterator[EmbeddedVLLM]:
    yield from running_vllm(SECOND)


@pytest.fixture(scope="module")
def workflow_proxy(vllm: EmbeddedVLLM, second_vllm: EmbeddedVLLM,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApp]:  # fmt: skip
    plans = tmp_path_factory.mktemp("plans")
    write_plan(plans / "qa.json", PLAN)
    size = float(count_parameters(vllm.model_dir) or 0)
    traces = tmp_path_factory.mktemp("workflow-traces")
    settings = e2e_settings(vllm.url, traces).model_copy(update={
        "plans_dir": plans, "model_parameters": {MODEL: size, SECOND: size},
    })  # fmt: skip
    pool = BackendPool([VLLMBackend(vllm.url), VLLMBackend(second_vllm.url)])
    with ServedApp(create_app(settings, pool)) as served:
        yield served


def test_each_stage_runs_on_its_plans_server_with_its_plans_controller(
    workflow_proxy: ServedApp, vllm: EmbeddedVLLM, second_vllm: EmbeddedVLLM
) -> None:
    client = openai.OpenAI(base_url=f"{workflow_proxy.url}/v1", api_key="x", max_retries=0)
    question: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": "What is 2 + 3? Answer in \\boxed{}."}
    ]
    run = {"X-TTS-Workflow": "qa", "X-TTS-Run": "run-1"}
    first, second = generation_tokens(vllm), generation_tokens(second_vllm)
    draft = client.chat.completions.create(
        model=MODEL,
        messages=question,
        max_tokens=48,
        extra_headers=run | {"X-TTS-Stage": "draft"},
    )
    drafted = generation_tokens(vllm) - first
    assert draft.model == MODEL and draft.tts["controller"] == "sc"  # type: ignore[attr-defined]
    assert draft.tts["branches"] == 2 and drafted > 0  # type: ignore[attr-defined]
    assert generation_tokens(second_vllm) == second  # the other server did nothing
    follow_up: list[ChatCompletionMessageParam] = [
        *question,
        {"role": "assistant", "content": draft.choices[0].message.content},
        {"role": "user", "content": "Now give only the final answer."},
    ]
    answer = client.chat.completions.create(
        model=MODEL,
        max_tokens=48,
        messages=follow_up,  # the plan: the second model
        extra_headers=run | {"X-TTS-Stage": "answer"},
    )
    assert answer.model == SECOND and answer.tts["controller"] == "probe_exit"  # type: ignore[attr-defined]
    assert answer.tts["workflow"]["plan"] == "smollm2-b probe_exit@0.5"  # type: ignore[attr-defined]
    assert generation_tokens(second_vllm) > second
    assert generation_tokens(vllm) - first == drafted
    metrics = httpx.get(f"{workflow_proxy.url}/metrics", timeout=10).text
    for stage, model in (("draft", MODEL), ("answer", SECOND)):
        line = next(line for line in metrics.splitlines()
                    if line.startswith("tts_workflow_flops_total{")
                    and f'stage="{stage}"' in line and f'model="{model}"' in line)  # fmt: skip
        assert 'workflow="qa"' in line and float(line.rsplit(" ", 1)[1]) > 0
    models = {m.id for m in client.models.list().data}
    assert {MODEL, SECOND} <= models


def test_plans_are_listed_by_the_admin_route(workflow_proxy: ServedApp) -> None:
    listing = httpx.get(f"{workflow_proxy.url}/admin/plans", timeout=10).json()
    assert listing["plans"]["qa"]["stages"]["answer"]["model"] == SECOND


def test_a_plan_for_a_model_no_server_serves_is_refused(
    workflow_proxy: ServedApp, tmp_path: Path
) -> None:
    plans = Path(httpx.get(f"{workflow_proxy.url}/admin/plans", timeout=10).json()
                 ["files"][0]["path"]).parent  # fmt: skip
    bad = WorkflowPlan.model_validate(
        {"workflow": "code", "stages": {"write": {"model": "gpt-9", "samples": 1}}}
    )
    write_plan(plans / "code.json", bad)
    try:
        listing = httpx.post(f"{workflow_proxy.url}/admin/plans/reload", timeout=10).json()
        refused = [f for f in listing["files"] if not f["served"]]
        assert "'gpt-9' is not served" in refused[0]["reason"]
    finally:
        (plans / "code.json").unlink()


def test_explored_stages_become_a_plan_the_proxy_serves(
    workflow_proxy: ServedApp, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """collect --workflow on both models, plan on what it recorded, serve the plan."""
    spec = WorkflowSpec.model_validate({
        "workflow": "solve-check", "width": 2, "max_tokens": 24, "upstream_answers": 1,
        "stages": [{"name": "solve", "prompt": "{question} Answer in \\boxed{}.",
                    "models": [MODEL, SECOND]},
                   {"name": "check", "prompt": "{question} Someone said {solve}. Final answer "
                    "in \\boxed{}.", "models": [MODEL, SECOND]}],
    })  # fmt: skip
    (tmp_path / "spec.json").write_text(spec.model_dump_json(by_alias=True))
    questions = [{"question": "What is 2 + 2?", "answer": "4"},
                 {"question": "What is 3 + 3?", "answer": "6"}]  # fmt: skip
    (tmp_path / "qs.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    log = tmp_path / "explore.jsonl"
    listing = httpx.get(f"{workflow_proxy.url}/admin/plans", timeout=10).json()
    plans = Path(listing["files"][0]["path"]).parent
    collect = ["collect", "--workflow", str(tmp_path / "spec.json"), "--dataset",
               str(tmp_path / "qs.jsonl"), "--base-url", f"{workflow_proxy.url}/v1",
               "--state", str(log)]  # fmt: skip
    with pytest.raises(SystemExit) as stop:
        main(collect)
    assert stop.value.code == 0 and len(read_log(log)) == 2 * (2 + 2)
    traces = workflow_proxy_traces(workflow_proxy)
    sizes = json.dumps({MODEL: 1.35e8, SECOND: 1.35e8})
    with pytest.raises(SystemExit) as stop:
        main(["plan", "--workflow", "solve-check", "--data", str(log), "--traces", str(traces),
              "--parameters", sizes, "--seeds", "2", "--trials", "30", "--no-sweep",
              "--out", str(plans / "solve-check.json"),
              "--report", str(tmp_path / "r")])  # fmt: skip
    assert stop.value.code == 0
    capsys.readouterr()
    try:
        reloaded = httpx.post(f"{workflow_proxy.url}/admin/plans/reload", timeout=10).json()
        assert "solve-check" in reloaded["plans"]  # servable: its models are served
    finally:
        (plans / "solve-check.json").unlink()


def workflow_proxy_traces(served: ServedApp) -> Path:
    """The proxy's trace directory (from its app's settings)."""
    app = served.app
    directory = app.state.service.settings.trace_dir  # type: ignore[attr-defined]
    assert isinstance(directory, Path)
    return directory
