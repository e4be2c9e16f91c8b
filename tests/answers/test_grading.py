"""Grading against a gold answer: math-aware, and never fooled by a huge number."""

from __future__ import annotations

import pytest

from tts_proxy.answers import equivalent


@pytest.mark.parametrize(
    ("answer", "gold"),
    [
        ("0.5", "\\frac{1}{2}"),
        ("204", "204"),
        ("\\frac{9}{\\sqrt{23}}", "\\frac{9\\sqrt{23}}{23}"),
        ("x^2 - 1", "(x-1)(x+1)"),
        ("2025!", "2025!"),
    ],
)
def test_equal_answers_grade_correct(answer: str, gold: str) -> None:
    assert equivalent(answer, gold)


@pytest.mark.parametrize(
    ("answer", "gold"),
    [
        ("205", "204"),
        ("yajo", "joya"),
        ("2025!", "\\frac{9\\sqrt{23}}{23}"),
        ("12!!", "\\frac{9\\sqrt{23}}{23}"),
        ("9^{9^{9}}", "204"),
        ("\\frac{1}{2025!}", "0"),
    ],
)
def test_different_answers_grade_wrong(answer: str, gold: str) -> None:
    assert not equivalent(answer, gold)
