"""Collect GSM8K through the real vLLM in explore mode, then replay the traces offline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import shared_file
from tests.e2e.conftest import MODEL, ProxyServer
from tts_proxy.answers import answer_key
from tts_proxy.controllers.base import Limits
from tts_proxy.controllers.sc import SelfConsistency
from tts_proxy.replay.evaluate import replay_one
from tts_proxy.replay.importers import load_replay
from tts_proxy.traces import read_records, trace_files

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
WIDTH = 4


def metric(text: str, name: str, **labels: str) -> float:
    return sum(
        s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


async def test_collect_then_replay_gives_the_live_majority(
    proxy: ProxyServer, trace_dir: Path, tmp_path: Path
) -> None:
    dataset = shared_file("datasets", "gsm8k_test.jsonl")
    before = httpx.get(f"{proxy.url}/metrics").text
    done = subprocess.run(
        [sys.executable, "-m", "tts_proxy", "collect", "--dataset", str(dataset),
         "--width", str(WIDTH), "--limit", "5", "--max-tokens", "96", "--chunk-tokens", "32",
         "--base-url", f"{proxy.url}/v1", "--model", MODEL,
         "--state", str(tmp_path / "progress.jsonl")],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"collected": 5}

    progress = [json.loads(line) for line in (tmp_path / "progress.jsonl").read_text().splitlines()]
    ids = {p["request_id"] for p in progress}
    records = {r["request_id"]: r for r in read_records(trace_files(trace_dir))}
    assert ids <= records.keys()
    questions = [q for q in load_replay(trace_dir) if q.id in ids]
    assert len(questions) == 5
    for q in questions:
        live = records[q.id]
        assert live["mode"] == "explore" and len(live["branches"]) == WIDTH
        assert q.label_source == "feedback"
        limits = Limits(max_branches=WIDTH, chunk_tokens=q.chunk_tokens)
        replayed = await replay_one(SelfConsistency, q, 1.0, limits, list(range(WIDTH)))
        live_key = answer_key(live["answer"]) if live["answer"] is not None else None
        replay_key = answer_key(replayed.answer) if replayed.answer is not None else None
        assert replay_key == live_key, (q.id, live["answer"], replayed.answer)
        assert replayed.branch_tokens == sum(sum(b["chunks"]) for b in live["branches"])

    after = httpx.get(f"{proxy.url}/metrics").text
    labels = {"controller": "explore", "model": MODEL}
    assert (
        metric(after, "tts_requests_total", outcome="ok", **labels)
        - metric(before, "tts_requests_total", outcome="ok", **labels)
        == 5
    )
    spent = sum(records[i]["usage"]["completion_tokens"] for i in ids)
    probe = metric(after, "tts_tokens_total", kind="probe", **labels) - metric(
        before, "tts_tokens_total", kind="probe", **labels
    )
    branch = metric(after, "tts_tokens_total", kind="branch", **labels) - metric(
        before, "tts_tokens_total", kind="branch", **labels
    )
    assert branch + probe == spent > 0
    assert metric(after, "tts_estimated_tokens_saved_total", **labels) >= 0
    assert "tts_estimated_tokens_saved_total" in after
