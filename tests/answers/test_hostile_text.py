"""Model output is hostile input: any string through extraction, keys, grading and the trace
writer returns (the generous timeout is reached only by a hang) and raises nothing.

How long each call takes is measured by ``benchmarks/hostile_answers.py``, not asserted here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.answers.corpus import HOSTILE
from tts_proxy.answers import (
    answer_key,
    equivalent,
    extract_answer,
    extract_boxed,
    extract_probe_answer,
)
from tts_proxy.engine import SearchResult
from tts_proxy.state import BranchState, ProbeRecord
from tts_proxy.traces import TraceWriter, build_record, read_records, trace_files

pytestmark = pytest.mark.timeout(300)

# Pieces real answers are made of, and pieces that make parsers and evaluators suffer.
LATEX = [
    "\\boxed{", "\\frac{", "\\sqrt{", "\\binom{", "\\left(", "\\right)", "\\cdot", "\\times",
    "{", "}", "(", ")", "[", "]", "^", "_", "!", "!!", "=", ",", ".", "$", "-", "+", "/", " ",
    "x", "n", "\\pi", "\\infty", "\\text{", "9", "10", "2025", "0.5", "\n", "####",
    "The answer is ", "Final Answer: ", "\\prod_{i=1}^{", "\\sum_{k=0}^{", "e", "i",
]  # fmt: skip
NASTY_CHARS = ["\x00", "\u202e", "\u200b", "\ufeff", "\ud800", "\udfff", "\U0001f600", "\\"]

latex_like = st.lists(st.sampled_from(LATEX + NASTY_CHARS), max_size=60).map("".join)
hostile = st.sampled_from(HOSTILE)
boxed_hostile = hostile.map(lambda h: f"Thinking...\nThe answer is \\boxed{{{h}}}.")
any_text = st.one_of(latex_like, hostile, boxed_hostile, st.text(max_size=300))
BIG = [
    "\\boxed{" + "7" * 100_000 + "}",  # a 100 kB box
    "{" * 10_000 + "}" * 10_000,  # 10,000 nested braces
    "{" * 10_000,  # unbalanced
    "\\boxed{" * 10_000,
    "Answer:" + " " * 50_000 + "x",  # a blank run after a phrase
    "the answer is " * 5_000,
]
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(any_text)
@example(BIG[0]).via("a 100 kB box")
@example(BIG[1]).via("10,000 nested braces")
@example(BIG[2]).via("unbalanced braces")
@example(BIG[3]).via("10,000 open boxes")
@example(BIG[4]).via("a long blank run")
@example(BIG[5]).via("a repeated phrase")
def test_extraction_returns_for_any_text(text: str) -> None:
    for found in (extract_answer(text), extract_boxed(text), extract_probe_answer(text)):
        assert found is None or isinstance(found, str)


@PROPERTY
@given(any_text)
@example(BIG[0][7:-1]).via("a 100 kB answer")
def test_keys_return_for_any_text_and_are_stable(text: str) -> None:
    key = answer_key(text)
    assert isinstance(key, str)
    assert answer_key(text) == key


@PROPERTY
@given(any_text, st.sampled_from(["204", "\\frac{9\\sqrt{23}}{23}", "yajo", "2025!"]))
def test_grading_returns_for_any_text(text: str, gold: str) -> None:
    assert isinstance(equivalent(text, gold), bool)


@settings(max_examples=40, deadline=None)
@given(st.lists(any_text, min_size=1, max_size=4))
@example(["\ud800\udfff"])  # two lone surrogates that JSON reads back as one character
def test_the_trace_writer_takes_any_text(tmp_path_factory: pytest.TempPathFactory,
                                          texts: list[str]) -> None:  # fmt: skip
    directory: Path = tmp_path_factory.mktemp("traces")
    branches = []
    for i, text in enumerate(texts):
        branch = BranchState(id=i, depth=1, tokens=3, finished=True, text=text, answer=text)
        branch.probes.append(ProbeRecord(1, text, text, 1, None, text))
        branches.append(branch)
    result = SearchResult(texts[0], "answer", branches, 1, 3, 1, 0)
    writer = TraceWriter(directory)
    writer.write(build_record(
        request_id="r", model="m", prompt=[{"role": "user", "content": texts[-1]}],
        log_prompts=True, controller="sc", beta=0.5, mode="default", chunk_tokens=8,
        probe_suffix="S", result=result, usage={"prompt_tokens": 1}, latency_s=0.1,
    ))  # fmt: skip
    writer.close()
    (record,) = read_records(trace_files(directory))
    assert record["request_id"] == "r"
    # Exactly, lone surrogates too -- as JSON keeps them: two lone surrogates that make a pair
    # are, once escaped, that pair's character.
    assert [b["text"] for b in record["branches"]] == [json.loads(json.dumps(t)) for t in texts]
