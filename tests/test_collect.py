"""collect's dataset reading and resume bookkeeping (the full run is in tests/e2e)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import shared_file
from tts_proxy.collect import collect, done_indices, gold_of, read_dataset
from tts_proxy.embedded.server import free_port
from tts_proxy.errors import CollectError, ReplayDataError


def test_gold_answers_of_each_dataset_style() -> None:
    assert gold_of({"answer": "Janet sells 9 eggs.\n#### 1,018"}) == "1018"
    assert gold_of({"answer": "\\frac{14}{3}"}) == "\\frac{14}{3}"
    assert gold_of({"answer": 204}) == "204"


def test_read_dataset_takes_question_or_problem(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"problem": "p", "answer": "1"}) + "\n\n"
                    + json.dumps({"question": "q", "answer": "x #### 2"}) + "\n")  # fmt: skip
    items = read_dataset(path)
    assert [(i.index, i.question, i.gold) for i in items] == [(0, "p", "1"), (2, "q", "2")]
    path.write_text(json.dumps({"text": "no question"}) + "\n")
    with pytest.raises(ReplayDataError):
        read_dataset(path)
    with pytest.raises(ReplayDataError, match="cannot read"):
        read_dataset(tmp_path / "absent.jsonl")


def test_resume_skips_finished_questions_and_torn_lines(tmp_path: Path) -> None:
    state = tmp_path / "progress.jsonl"
    assert done_indices(state) == set()
    state.write_text('{"index": 0, "request_id": "a"}\n{"index": 3, "request_id": "b"}\n{"ind')
    assert done_indices(state) == {0, 3}


def test_shared_datasets_parse() -> None:
    for name in ("gsm8k_test.jsonl", "math500_test.jsonl", "aime24_test.jsonl"):
        items = read_dataset(shared_file("datasets", name))
        assert items and all(i.question and i.gold for i in items)


@pytest.mark.anyio
async def test_a_proxy_that_cannot_be_reached_stops_the_run_and_says_how_to_resume(
    tmp_path: Path,
) -> None:
    dataset = tmp_path / "d.jsonl"
    dataset.write_text(json.dumps({"question": "1+1?", "answer": "2"}) + "\n")
    state = tmp_path / "progress.jsonl"
    with pytest.raises(CollectError, match="run it again to resume") as info:
        await collect(dataset, base_url=f"http://127.0.0.1:{free_port()}/v1", model="m",
                      width=2, state=state)  # fmt: skip
    assert str(state) in info.value.message and done_indices(state) == set()
