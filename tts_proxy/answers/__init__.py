"""Answers: reading them out of model text, keying them for votes, grading them.

Model output is hostile input (``\\boxed{2025!}``, ``12!!``, ``9^{9^{9}}`` are real answers),
so every call here is bounded: extraction and the cheap key rules are linear in the text;
parsing and evaluation run in answer workers (child processes with a hard time limit), and a
number is computed only when its size is known to be small.

- ``extract``: ``\\boxed{}``, final-answer phrases, probe answers;
- ``keys``: canonical keys (``answer_key`` blocks, ``answer_keys`` is awaitable);
- ``grading``: ``equivalent`` to a gold answer;
- ``arithmetic``, ``magnitude``, ``symbolic``: the parser side, run in ``workers``.
"""

from tts_proxy.answers.extract import (
    clean_answer,
    extract_answer,
    extract_boxed,
    extract_probe_answer,
    match_braces,
)
from tts_proxy.answers.grading import equivalent, known_grades, remember_grades
from tts_proxy.answers.keys import answer_key, answer_keys, normalise, remember_keys

__all__ = [
    "answer_key",
    "answer_keys",
    "clean_answer",
    "equivalent",
    "extract_answer",
    "extract_boxed",
    "extract_probe_answer",
    "known_grades",
    "match_braces",
    "normalise",
    "remember_grades",
    "remember_keys",
]
