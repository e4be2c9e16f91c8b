"""Trace records: writing, rotation, crash safety, prompt hashing, feedback and replay."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx
import pytest

from tests.fakes import FakeEpisode, FakeModelServer, FakeStreamingEpisode, Script
from tts_proxy.actions import Action, Answer, Branch
from tts_proxy.api.app import create_app
from tts_proxy.controllers.base import Controller, Limits
from tts_proxy.controllers.explore import Explore
from tts_proxy.controllers.sc import SelfConsistency
from tts_proxy.engine import run_search
from tts_proxy.replay.evaluate import replay_one
from tts_proxy.replay.importers import load_replay
from tts_proxy.settings import Settings
from tts_proxy.state import View
from tts_proxy.streamed import StreamedSearch
from tts_proxy.traces import TraceWriter, build_record, read_records, trace_files

SCRIPTS = [Script(3, "4", ["1", "4"]), Script(2, "5", ["5"]), Script(4, "4", ["2", "4", "4"])]


async def explored(width: int = 3) -> tuple[object, Limits]:
    limits = Limits(max_branches=width, chunk_tokens=8)
    return await run_search(Explore(0.5, limits), FakeEpisode(SCRIPTS), limits, record=True), limits


def record(result: object, request_id: str = "r1", log_prompts: bool = True):  # type: ignore[no-untyped-def]
    return build_record(
        request_id=request_id, model="m", prompt=[{"role": "user", "content": "secret"}],
        log_prompts=log_prompts, controller="explore", beta=0.5, mode="explore", chunk_tokens=8,
        probe_suffix="S", result=result, usage={"prompt_tokens": 1}, latency_s=0.5,  # type: ignore[arg-type]
    )  # fmt: skip


def log_one(directory: Path, result: object) -> None:
    writer = TraceWriter(directory)
    writer.write(record(result))
    writer.close()


@pytest.mark.anyio
async def test_records_are_written_and_read_back(tmp_path: Path) -> None:
    result, _ = await explored()
    log_one(tmp_path, result)
    (rec,) = read_records(trace_files(tmp_path))
    assert rec["schema"] == "tts-trace/1" and rec["request_id"] == "r1"
    assert [b["chunks"] for b in rec["branches"]] == [[8, 8, 8], [8, 8], [8, 8, 8, 8]]
    assert {(p["branch"], p["depth"]) for p in rec["probes"]} == {
        (0, 1), (0, 2), (1, 1), (2, 1), (2, 2), (2, 3)
    }  # fmt: skip
    assert rec["rounds"][0] == ["Branch(n=3, probe=True)"]
    assert rec["messages"][0]["content"] == "secret"


@pytest.mark.anyio
async def test_prompts_can_be_hashed_instead(tmp_path: Path) -> None:
    result, _ = await explored()
    rec = record(result, log_prompts=False)
    assert rec.messages is None and rec.prompt_sha256 and len(rec.prompt_sha256) == 64
    assert "secret" not in rec.model_dump_json()


@pytest.mark.anyio
async def test_files_rotate_at_the_size_cap(tmp_path: Path) -> None:
    result, _ = await explored()
    writer = TraceWriter(tmp_path, max_bytes=2000, max_files=3)
    for i in range(12):
        writer.write(record(result, f"r{i}"))
    writer.close()
    files = trace_files(tmp_path)
    assert 2 <= len(files) <= 3
    ids = [r["request_id"] for r in read_records(files)]
    assert ids[-1] == "r11" and ids == sorted(ids, key=lambda s: int(s[1:]))


WRITER_LOOP = """
import sys, asyncio
from pathlib import Path
from tests.test_traces import explored, record
from tts_proxy.traces import TraceWriter
result, _ = asyncio.run(explored())
writer = TraceWriter(Path(sys.argv[1]))
i = 0
while True:
    writer.write(record(result, f"r{i}"))
    i += 1
"""


def test_a_killed_writer_loses_at_most_the_record_being_written(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", WRITER_LOOP, str(tmp_path)],
                            cwd=Path(__file__).resolve().parents[1])  # fmt: skip
    deadline = time.monotonic() + 60
    while not trace_files(tmp_path) or trace_files(tmp_path)[-1].stat().st_size < 200_000:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    lines = trace_files(tmp_path)[-1].read_bytes().split(b"\n")
    # Every line but the last is a whole record; the last is empty or the one torn record.
    assert all(json.loads(line)["schema"] == "tts-trace/1" for line in lines[:-1])
    ids = [int(r["request_id"][1:]) for r in read_records(trace_files(tmp_path))]
    assert ids == list(range(len(ids))) and len(ids) > 10  # nothing lost before the last


@pytest.mark.anyio
async def test_an_exploration_replays_to_the_same_majority(tmp_path: Path) -> None:
    result, _limits = await explored()
    log_one(tmp_path, result)
    (question,) = load_replay(tmp_path)
    assert question.label_source == "pseudo" and question.label == "4"
    assert [b.n_tokens for b in question.branches] == [24, 16, 32]
    assert question.branches[2].probe_answers == ("2", "4", "4")
    replayed = await replay_one(SelfConsistency, question, 1.0, Limits(3, None, 8), [0, 1, 2])
    assert replayed.answer == result.answer  # type: ignore[attr-defined]
    assert replayed.tokens == result.branch_tokens  # type: ignore[attr-defined]


class FirstToFinish(Controller):
    """Two branches; answers with the first that finishes."""

    name = "first_to_finish"

    def decide(self, view: View) -> Sequence[Action]:
        if not view.branches:
            return [Branch(2)]
        done = [b for b in view.branches if b.finished]
        return [Answer(done[0].answer)] if done else []


@pytest.mark.anyio
async def test_branches_aborted_before_their_first_boundary_are_not_replayed(
    tmp_path: Path,
) -> None:
    """The streamed engine can abort a branch before its first chunk: the trace says so (a
    branch with no chunks), and replay has no trajectory to take from it."""
    limits = Limits(max_branches=2, chunk_tokens=8)
    episode = FakeStreamingEpisode([Script(1, "4"), Script(50, "9")], 8, seconds={1: 0.05})
    result = await run_search(FirstToFinish(0.5, limits), episode, limits, record=True,
                              engine=StreamedSearch)  # fmt: skip
    log_one(tmp_path, result)
    (logged,) = read_records(trace_files(tmp_path))
    assert [len(b["chunks"]) for b in logged["branches"]] == [1, 0]
    (question,) = load_replay(tmp_path)
    assert len(question.branches) == 1 and question.branches[0].final_answer == "4"


@pytest.fixture
async def proxy(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(backend_url="http://fake", chunk_tokens=8, trace_dir=tmp_path,
                        savings_file=None)  # fmt: skip
    app = create_app(settings, FakeModelServer(SCRIPTS))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as c:
        yield c
    app.state.service.traces.close()


@pytest.mark.anyio
async def test_feedback_labels_a_logged_request(proxy: httpx.AsyncClient, tmp_path: Path) -> None:
    body = {"model": "fake", "messages": [{"role": "user", "content": "q"}],
            "tts": {"mode": "explore", "max_branches": 3}}  # fmt: skip
    r = await proxy.post("/v1/chat/completions", json=body)
    request_id = r.headers["x-tts-request-id"]
    assert r.json()["tts"]["controller"] == "explore"
    missing = await proxy.post("/v1/tts/feedback", json={"request_id": "nope", "answer": "1"})
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "request_id"
    for nothing in ({}, {"answer": ""}, {"score": True}, {"score": "0.9"}):
        r = await proxy.post("/v1/tts/feedback", json={"request_id": request_id} | nothing)
        assert r.status_code == 400, nothing
    ok = await proxy.post("/v1/tts/feedback", json={"request_id": request_id, "answer": "5"})
    assert ok.status_code == 200
    # A score given later is another label; it does not erase the answer.
    ok = await proxy.post("/v1/tts/feedback", json={"request_id": request_id, "score": 0.9})
    assert ok.status_code == 200
    deadline = time.monotonic() + 10
    while not list(read_records(trace_files(tmp_path))):  # the writer is asynchronous
        assert time.monotonic() < deadline
        time.sleep(0.02)
    (question,) = load_replay(tmp_path)
    assert question.label == "5" and question.label_source == "feedback"
