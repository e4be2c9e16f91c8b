"""How a search reads its branches' answers: from text (a box, a phrase), or -- when every
branch is constrained to JSON (``response_format``, ``tools``) -- as the JSON document itself.

A reader extracts a branch's answer from what it wrote and keys answers for the vote. For
JSON the key is the canonical document (keys sorted, no blanks): two branches that wrote the
same object in another order or spacing vote together.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Protocol

from tts_proxy.answers.extract import extract_answer
from tts_proxy.answers.keys import answer_keys

# A JSON answer longer than this is not parsed (parsing is linear, but the vote needs none).
MAX_JSON_CHARS = 1 << 16


class AnswerReader(Protocol):
    """Reads a finished branch's answer out of its text, and keys answers for votes."""

    def extract(self, text: str) -> str | None: ...

    async def keys(self, answers: Sequence[str]) -> list[str]: ...


class TextAnswers:
    """Answers written in text: ``\\boxed{}`` or a final-answer phrase; math-aware keys."""

    def extract(self, text: str) -> str | None:
        return extract_answer(text)

    async def keys(self, answers: Sequence[str]) -> list[str]:
        return await answer_keys(answers)


def canonical_json(text: str) -> str | None:
    """``text`` as canonical JSON (sorted keys, compact), or None if it is not JSON."""
    if len(text) > MAX_JSON_CHARS:
        return None
    try:
        value = json.loads(text)
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)  # fmt: skip
    except (ValueError, RecursionError, TypeError):  # not JSON, too deep, or NaN/inf
        return None


class JSONAnswers:
    """Branches constrained to JSON: the canonical document is both answer and key."""

    def extract(self, text: str) -> str | None:
        return canonical_json(text.strip())

    async def keys(self, answers: Sequence[str]) -> list[str]:
        return list(answers)


TEXT = TextAnswers()
JSON = JSONAnswers()
