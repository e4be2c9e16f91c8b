from __future__ import annotations

import pytest

from tts_proxy.answers import (
    answer_key,
    equivalent,
    extract_answer,
    extract_boxed,
    extract_probe_answer,
)
from tts_proxy.state import vote_counts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so \\boxed{\\frac{1}{2}} done", "\\frac{1}{2}"),
        ("\\boxed{1} then \\boxed{2}", "2"),
        ("\\boxed{\\sqrt{\\frac{a}{b}}}", "\\sqrt{\\frac{a}{b}}"),
        ("The answer is yajo.", "yajo"),
        ("... so the final answer is: $42$.", "42"),
        ("work\n#### 1,234", "1,234"),
        ("Answer: 17", "17"),
        ("no answer here", None),
        ("so the answer is \\boxed{}.", None),  # an empty box is no answer, not "\\boxed{}"
    ],
)
def test_extract_answer(text: str, expected: str | None) -> None:
    assert extract_answer(text) == expected


def test_boxed_wins_over_phrases() -> None:
    assert extract_answer("The answer is 3. Actually \\boxed{4}") == "4"


def test_unclosed_boxed_is_not_an_answer() -> None:
    assert extract_boxed("\\boxed{12") is None


def test_probe_answer_reads_to_the_matching_brace() -> None:
    assert extract_probe_answer("\\frac{3}{4}} and more") == "\\frac{3}{4}"
    assert extract_probe_answer("18}") == "18"
    assert extract_probe_answer("") is None


@pytest.mark.parametrize(
    "group",
    [
        ["1/2", "\\frac{1}{2}", "0.5", "\\dfrac12", "$\\frac{1}{2}$"],
        ["1024", "2^{10}", "1,024"],
        ["yajo", "Yajo", "\\text{yajo}"],
        ["\\frac{\\sqrt{2}}{2}", "\\sqrt{2}/2"],
    ],
)
def test_equivalent_answers_share_a_key(group: list[str]) -> None:
    keys = {answer_key(a) for a in group}
    assert len(keys) == 1, keys


def test_different_answers_have_different_keys() -> None:
    assert answer_key("yajo") != answer_key("joya")  # not the product y*a*j*o
    assert answer_key("3") != answer_key("4")
    assert answer_key("1/2") != answer_key("1/3")


def test_equivalent_with_gold() -> None:
    assert equivalent("0.5", "\\frac{1}{2}")
    assert equivalent("204", "204")
    assert not equivalent("205", "204")


def test_vote_counts_ignore_missing_answers() -> None:
    counts = vote_counts(["1/2", None, "0.5", "3"])
    assert counts.most_common(1)[0] == (answer_key("1/2"), 2)
    assert sum(counts.values()) == 3
