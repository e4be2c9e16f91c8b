"""``collect --workflow`` against the proxy over two fake model servers (real HTTP), then the
planner's environment composed from the explorations and the proxy's traces."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.fakes import FakeModelServer, Script
from tests.servers import ServedApp
from tts_proxy.api.app import create_app
from tts_proxy.backends.pool import BackendPool
from tts_proxy.errors import PlanError
from tts_proxy.settings import Settings
from tts_proxy.workflows.data import load_environment
from tts_proxy.workflows.definition import WorkflowSpec, fill
from tts_proxy.workflows.environment import Choice, Table
from tts_proxy.workflows.explore import explore, read_log, spec_beside

SPEC = WorkflowSpec.model_validate({
    "workflow": "solve-check", "width": 4, "upstream_answers": 2,
    "stages": [
        {"name": "solve", "prompt": "{question} Put it in \\boxed{}.",
         "models": ["weak", "strong"]},
        {"name": "check", "prompt": "{question} A draft says {solve}. Check it.",
         "models": ["weak", "strong"]},
    ],
})  # fmt: skip


def test_a_workflow_file_names_only_earlier_stages() -> None:
    bad = SPEC.model_dump(by_alias=True)
    bad["stages"][0]["prompt"] = "{question} and {check}"
    with pytest.raises(ValidationError, match="may use"):
        WorkflowSpec.model_validate(bad)


def test_prompts_fill_their_fields_and_leave_latex_alone() -> None:
    text = fill("{question} draft: {solve}; \\boxed{} {x}", "1+1?", ("solve", "2"))
    assert text == "1+1? draft: 2; \\boxed{} {x}"


def test_explorations_compose_into_an_environment(tmp_path: Path) -> None:
    weak = FakeModelServer([Script(1, "4"), Script(1, "5")], served=["weak"])  # half right
    strong = FakeModelServer([Script(1, "4")], served=["strong"])  # always right
    settings = Settings(backend_url="http://fake", chunk_tokens=8, trace_dir=tmp_path / "traces",
                        savings_file=None)  # fmt: skip
    dataset = tmp_path / "qs.jsonl"
    dataset.write_text("\n".join(json.dumps({"question": f"2+2 (#{i})?", "answer": "4"})
                                 for i in range(2)) + "\n")  # fmt: skip
    log = tmp_path / "explore.jsonl"
    with ServedApp(create_app(settings, BackendPool([weak, strong]))) as proxy:
        asyncio.run(explore(SPEC, dataset, base_url=f"{proxy.url}/v1", log=log))
        calls = len(weak.episodes) + len(strong.episodes)
        asyncio.run(explore(SPEC, dataset, base_url=f"{proxy.url}/v1", log=log))  # resumes
        assert len(weak.episodes) + len(strong.episodes) == calls  # nothing asked twice
    explorations = read_log(log)
    # per question: solve on 2 models; check on 2 models x 2 upstream answers ("4", "5")
    assert len(explorations) == 2 * (2 + 2 * 2) and spec_beside(log).is_file()
    assert {e.upstream for e in explorations if e.stage == "check"} == {"4", "5"}
    env = load_environment(log, parameters={"weak": 1e9, "strong": 8e9},
                           traces=tmp_path / "traces", repeats=4)  # fmt: skip
    table = Table(env)
    assert table.stages == ["solve", "check"] and len(table.questions) == 2
    strong1, weak4 = Choice(model="strong", samples=1), Choice(model="weak", samples=4)
    assert table.measure((weak4, strong1)).score == 1.0  # type: ignore[union-attr]
    weak1 = Choice(model="weak", samples=1)
    m = table.measure((strong1, weak1))
    assert m is not None and 0 < m.score < 1 and m.stage_flops[0] > m.stage_flops[1] > 0


def test_explorations_without_their_traces_say_where_to_look(tmp_path: Path) -> None:
    log = tmp_path / "explore.jsonl"
    spec_beside(log).write_text(SPEC.model_dump_json(by_alias=True))
    lines = [{"index": 0, "stage": stage, "model": model, "upstream": None if stage == "solve"
              else "4", "request_id": f"gone-{stage}-{model}", "gold": "4"}
             for stage in ("solve", "check") for model in ("weak", "strong")]  # fmt: skip
    log.write_text(json.dumps(lines[0]) + "\n")
    with pytest.raises(PlanError, match="no question was explored on every model"):
        load_environment(log, parameters={"weak": 1, "strong": 1}, traces=tmp_path)
    log.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with pytest.raises(PlanError, match="--traces"):
        load_environment(log, parameters={"weak": 1, "strong": 1}, traces=tmp_path)
