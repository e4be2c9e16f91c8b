"""Importers: AutoTTS JSON, full-text samples, format detection, and the shared files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import shared_file
from tts_proxy.errors import ReplayDataError
from tts_proxy.replay.importers import branch_from_text, load_replay


def test_autotts_json(tmp_path: Path) -> None:
    data = [{"question": "q", "gold_answer": "7", "probe_freq": 500,
             "each_branch": [[["ERR", "7"], 1200, "7"], [["3"], 700, "3"]]}]  # fmt: skip
    path = tmp_path / "env.json"
    path.write_text(json.dumps(data))
    (q,) = load_replay(path)
    assert q.label == "7" and q.chunk_tokens == 500
    assert q.branches[0].probe_answers == (None, "7")  # ERR reads as no answer
    assert q.branches[1].n_tokens == 700 and q.branches[1].final_answer == "3"


def test_full_text_samples_are_cut_into_chunks(tmp_path: Path) -> None:
    text = " ".join(f"w{i}" for i in range(40)) + ". The answer is abc."
    line = {"question": "q", "answer": "abc", "generated_answer": [text, "The answer is x."]}
    path = tmp_path / "samples.jsonl"
    path.write_text(json.dumps(line) + "\n")
    (q,) = load_replay(path, chunk_tokens=10)
    first = q.branches[0]
    assert first.final_answer == "abc"
    assert first.n_tokens == 40 + 1 + 5  # words, the period, "The answer is abc ."
    assert len(first.probe_answers) == 4 and set(first.probe_answers) == {None}
    assert q.branches[1].probe_answers == ()


def test_prefix_probes_see_an_answer_once_it_is_written() -> None:
    branch = branch_from_text("The answer is 5. " + "more words here " * 10, chunk_tokens=5)
    assert branch.probe_answers[0] == "5" and branch.final_answer == "5"


@pytest.mark.parametrize("content", ["[1, 2]", '{"a": 1}\n', ""])
def test_unknown_formats_are_refused_clearly(tmp_path: Path, content: str) -> None:
    path = tmp_path / "x.json"
    path.write_text(content)
    with pytest.raises(ReplayDataError):
        load_replay(path)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"each_branch": [[["7"], -5, "7"]]}, "at least 0"),
        ({"each_branch": [[["7"], "many", "7"]]}, "many"),
        ({"each_branch": [None]}, "question 0"),
        ({"probe_freq": 0}, "probe_freq must be at least 1"),
        ({"probe_freq": None}, "question 0"),
    ],
)
def test_autotts_records_that_cannot_be_costed_are_refused_by_question(
    tmp_path: Path, change: dict[str, object], why: str
) -> None:
    record = {"question": "q", "gold_answer": "7", "probe_freq": 500,
              "each_branch": [[["7"], 700, "7"]]} | change  # fmt: skip
    path = tmp_path / "env.json"
    path.write_text(json.dumps([record]))
    with pytest.raises(ReplayDataError, match=why):
        load_replay(path)


def test_missing_file_is_a_replay_error(tmp_path: Path) -> None:
    with pytest.raises(ReplayDataError, match="cannot read"):
        load_replay(tmp_path / "absent.json")


def test_shared_autotts_file() -> None:
    questions = load_replay(shared_file("autotts", "Qwen3-8B", "aime24.json"))
    assert len(questions) == 30
    assert all(len(q.branches) == 128 and q.chunk_tokens == 500 for q in questions)


def test_shared_esc_file() -> None:
    questions = load_replay(shared_file("esc", "gpt35_last_letters.jsonl"))
    assert len(questions) == 500 and all(len(q.branches) == 40 for q in questions)
    finals = [b.final_answer for b in questions[0].branches]
    assert sum(a is not None for a in finals) >= 35
