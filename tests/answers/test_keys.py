"""Canonical keys: equal answers vote together, different ones do not, and numbers too large
to compute keep their unevaluated form."""

from __future__ import annotations

import pytest

from tts_proxy.answers import answer_key, answer_keys
from tts_proxy.answers.keys import MAX_PARSE_CHARS, kind, normalise
from tts_proxy.state import majority, vote_counts

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "group",
    [
        ["1/2", "\\frac{1}{2}", "0.5", "\\dfrac12", "$\\frac{1}{2}$"],
        ["1024", "2^{10}", "1,024", "2^10", "+1024", "01024"],
        ["yajo", "Yajo", "\\text{yajo}"],
        ["\\frac{\\sqrt{2}}{2}", "\\sqrt{2}/2"],
        ["12!!", "46080"],  # the double factorial, as mathematics writes it
        ["5!", "120", "(5)!"],
        ["2025!", "2025 !", "(2025)!"],
        ["\\frac{1}{2025!}", "1/2025!"],
        ["9^{9^{9}}", "9^{(9^9)}"],
        ["\\binom{10}{3}", "120"],
        ["7", "3 + 4 = 7", "x = 7", "x_1 = 7"],
        ["42", "4\u200b2", "\u202e42", "4\x002"],  # invisible characters do not count
        ["0", "-0", "000"],
    ],
)
def test_equivalent_answers_share_a_key(group: list[str]) -> None:
    keys = {answer_key(a) for a in group}
    assert len(keys) == 1, keys


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("yajo", "joya"),  # not the product y*a*j*o
        ("3", "4"),
        ("1/2", "1/3"),
        ("2025!", "2024!"),
        ("9^{9^{9}}", "9^{9^{8}}"),
        ("10^{10^{6}}", "10^{10^{7}}"),
        ("-5", "5"),
        ("a + b = c", "c"),  # an equation is not an assignment
        ("12!!", "(12!)!"),
    ],
)
def test_different_answers_have_different_keys(a: str, b: str) -> None:
    assert answer_key(a) != answer_key(b)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("2025!", "factorial(2025)"),
        ("9^{9^{9}}", "9**(9**9)"),
        ("10^{10^{6}}", "10**(10**6)"),
        ("\\frac{1}{2025!}", "1/factorial(2025)"),
        ("2025 \\cdot \\left(1 - \\frac{1}{2025}\\right)^{2024}", "2025*(1 - 1/2025)**2024"),
        ("\\binom{100000}{50000}", "binomial(100000, 50000)"),
    ],
)
def test_numbers_too_large_to_compute_keep_their_unevaluated_form(
    answer: str, expected: str
) -> None:
    assert answer_key(answer) == expected


def test_an_answer_too_long_to_parse_is_keyed_by_its_text() -> None:
    long = "x + " * MAX_PARSE_CHARS + "1"
    assert kind(normalise(long)) == "structural"
    assert answer_key(long) == answer_key(long.replace(" ", ""))
    assert answer_key(long) != answer_key(long + "+1")


def test_integers_of_any_length_are_keyed_without_conversion() -> None:
    digits = "9" * 5000  # past Python's 4,300-digit limit on int <-> str
    assert answer_key(digits) == digits
    assert answer_key("0" + digits) == digits


async def test_awaited_keys_are_the_blocking_ones() -> None:
    answers = ["\\frac{2}{4}", "2025!", "yajo", "17"]
    assert await answer_keys(answers) == [answer_key(a) for a in answers]


def test_votes_count_keys_and_the_majority_is_written_as_first_seen() -> None:
    pairs = [(a, answer_key(a)) for a in ["1/2", "3", "0.5", "3", "\\frac{1}{2}"]]
    assert vote_counts(k for _, k in pairs) == {answer_key("1/2"): 3, "3": 2}
    assert majority(pairs) == "1/2"
    assert majority([(None, None), ("7", "7")]) == "7"
    assert majority([]) is None
