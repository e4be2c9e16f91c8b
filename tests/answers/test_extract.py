"""Reading answers out of model text: boxes, phrases, probes; a label is not an answer."""

from __future__ import annotations

import pytest

from tts_proxy.answers import extract_answer, extract_boxed, extract_probe_answer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so \\boxed{\\frac{1}{2}} done", "\\frac{1}{2}"),
        ("\\boxed{1} then \\boxed{2}", "2"),
        ("\\boxed{\\sqrt{\\frac{a}{b}}}", "\\sqrt{\\frac{a}{b}}"),
        ("\\boxed{\\boxed{5}}", "5"),
        ("The answer is yajo.", "yajo"),
        ("... so the final answer is: $42$.", "42"),
        ("The answer is 3.5. Then we check.", "3.5"),
        ("work\n#### 1,234", "1,234"),
        ("Answer: 17", "17"),
        ("**Final Answer:** 17", "17"),
        ("no answer here", None),
        ("so the answer is \\boxed{}.", None),  # an empty box is no answer, not "\\boxed{}"
    ],
)
def test_answers_are_read_from_boxes_then_phrases(text: str, expected: str | None) -> None:
    assert extract_answer(text) == expected


# Endings in the styles of the shared datasets and of what the live SmolLM2 wrote.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Janet sells 16 - 3 - 4 = 9 eggs.\nShe makes 9 * 2 = $18 every day.\n#### 18", "18"),
        ("Concatenating them is 'yajo'. The answer is yajo.", "yajo"),
        (
            "So $m+n = 33$.\n</think>\n\nThe final answer is \\boxed{33}.",
            "33",
        ),
        ("The answer is (B).", "(B)"),
        (" 5\n\n#### Options:\nA) 4\nB) 5", None),  # a heading, not an answer
        ("Answer:\n42", "42"),
    ],
)
def test_real_model_endings(text: str, expected: str | None) -> None:
    assert extract_answer(text) == expected


def test_boxed_wins_over_phrases() -> None:
    assert extract_answer("The answer is 3. Actually \\boxed{4}") == "4"


def test_unclosed_boxed_is_not_an_answer() -> None:
    assert extract_boxed("\\boxed{12") is None
    assert extract_boxed("\\boxed{1} \\boxed{2") == "1"


def test_a_box_too_long_to_be_an_answer_is_none() -> None:
    assert extract_boxed("\\boxed{" + "1" * 100_000 + "}") is None


def test_probe_answer_reads_to_the_matching_brace() -> None:
    assert extract_probe_answer("\\frac{3}{4}} and more") == "\\frac{3}{4}"
    assert extract_probe_answer("18}") == "18"
    assert extract_probe_answer("") is None
    assert extract_probe_answer("}") is None
