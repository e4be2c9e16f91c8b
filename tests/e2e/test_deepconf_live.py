"""deepconf on the real vLLM: the search asks for top-k logprobs, every branch gets token
confidence, and the trace records it per chunk (so replay can run deepconf again)."""

from __future__ import annotations

import time
from pathlib import Path

import openai
import pytest

from tests.e2e.conftest import MODEL
from tts_proxy.replay.importers import load_replay
from tts_proxy.traces import read_records, trace_files

pytestmark = pytest.mark.e2e


def test_deepconf_measures_confidence_live_and_its_trace_replays_it(
    client: openai.OpenAI, trace_dir: Path
) -> None:
    r = client.chat.completions.create(
        model=MODEL, max_tokens=64,
        messages=[{"role": "user", "content": "What is 5 + 4? Put the answer in \\boxed{}."}],
        extra_body={"tts": {"controller": "deepconf", "beta": 1.0, "max_branches": 4}},
    )  # fmt: skip
    summary = r.tts  # type: ignore[attr-defined]
    assert summary["controller"] == "deepconf" and summary["branches"] >= 2
    request_id = summary["request_id"]
    for _ in range(50):  # the trace writer is a background thread
        records = [x for x in read_records(trace_files(trace_dir)) if x["request_id"] == request_id]
        if records:
            break
        time.sleep(0.1)
    (record,) = records
    for branch in record["branches"]:
        assert len(branch["confidence"]) == len(branch["chunks"])  # one per chunk
        assert all(group > 0 and tail > 0 for group, _, tail in branch["confidence"])
    questions = load_replay(trace_dir)
    replayed = next(q for q in questions if q.id == request_id)
    assert all(b.confidences for b in replayed.branches)
