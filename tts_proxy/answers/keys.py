"""Canonical keys of answers: equal keys vote together.

An answer's key comes from the first rule that applies to its normalised text:

1. *empty*: no answer;
2. *integer* (``1,024``, ``-007``): its digits, read as text (no conversion of a huge number);
3. *text* that is not mathematics (a word, a sentence): its lower-cased words;
4. *structural*: too long to parse in bounded time -- the text itself, blanks removed, so
   equal texts still vote together and different ones do not;
5. *symbolic*: in an answer worker (``workers``), its exact value printed (``1/2``, ``0.5``
   and ``\\frac{1}{2}`` share ``1/2``), or its unevaluated form when the value is too large to
   compute (``2025!`` is ``factorial(2025)``), or the text when it does not parse (or is
   nested too deeply for math-verify) or the worker's time limit cuts it off.

Rules 1-4 run in the caller, in time linear in the text; rule 5 never does.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Sequence
from typing import Literal

from tts_proxy.answers import arithmetic, workers
from tts_proxy.answers.extract import clean_answer
from tts_proxy.answers.symbolic import symbolic_key

Kind = Literal["empty", "integer", "text", "structural", "symbolic"]

# Longer answers are not parsed (AIME24 replay data: at most 105 characters).
MAX_PARSE_CHARS = 256
# Longer inputs are keyed by their text as it is (an answer is never this long).
MAX_KEY_INPUT = 8192
MEMO_SIZE = 1 << 16

_TEXT_WRAPPER = re.compile(r"\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}")
_DEGREES = re.compile(r"\^[ \t]*\{?\\circ\}?")
# Control and invisible format characters (NUL, zero-width, bidi embeddings and isolates, BOM).
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]"
)
# "x = 5", "x_1 = 5", "\theta = 30": an assignment states its value on the right.
_ASSIGNMENT = re.compile(r"(?:[A-Za-z](?:_\{?\w{1,8}\}?)?|\\[A-Za-z]{1,12})[ \t]*=(?!=)[ \t]*")
_INTEGER = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+|[-+]?\d+")
_WORD = re.compile(r"[A-Za-z][A-Za-z' ]*")
# A bare word of three or more letters (not a LaTeX command) marks prose, not mathematics.
_PROSE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{3,}")
_BLANKS = re.compile(r"\s+")


def normalise(answer: str) -> str:
    """The answer without what does not change it: wrapping, ``\\text{}``, ``\\left``,
    degree marks, invisible characters, repeated blanks, and the left side of an assignment
    or a worked calculation (``x = 5`` and ``3 + 4 = 7`` state ``5`` and ``7``)."""
    s = _INVISIBLE.sub("", clean_answer(answer))
    s = _TEXT_WRAPPER.sub(r"\1", s)
    s = s.replace("\\!", "").replace("\\left", "").replace("\\right", "")
    s = _DEGREES.sub("", s)
    s = " ".join(s.split())
    return _stated_value(s)


def _stated_value(s: str) -> str:
    if s.count("=") != 1:
        return s
    left, _, right = s.partition("=")
    right = right.strip()
    if not right or right[0] in "=<>" or left[-1:] in "<>!\\":
        return s
    if _ASSIGNMENT.fullmatch(left + "=") or arithmetic.tokens(left) is not None:
        return right
    return s


def kind(normalised: str) -> Kind:
    """Which rule keys a normalised answer (see the module's docstring)."""
    if not normalised:
        return "empty"
    if _INTEGER.fullmatch(normalised):
        return "integer"
    if (_WORD.fullmatch(normalised) and len(normalised) > 1) or _PROSE.search(normalised):
        # Text, not mathematics: math-verify would read "yajo" as the product y*a*j*o, and
        # parsing a sentence is slow and meaningless.
        return "text"
    if len(normalised) > MAX_PARSE_CHARS:
        return "structural"
    return "symbolic"


def cheap_key(normalised: str, found: Kind) -> str:
    """The key of an answer of any kind but ``symbolic``."""
    if found == "integer":
        digits = normalised.replace(",", "")
        number = digits.lstrip("+-").lstrip("0") or "0"
        return ("-" if digits[0] == "-" and number != "0" else "") + number
    if found == "text":
        return " ".join(normalised.lower().split())
    if found == "structural":
        return _BLANKS.sub("", normalised)
    return normalised


class _Memo:
    """Keys already known: from replay data's disk cache (kept) and recent ones (bounded)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pinned: dict[str, str] = {}
        self.recent: dict[str, str] = {}

    def get(self, answer: str) -> str | None:
        found = self.pinned.get(answer)
        return found if found is not None else self.recent.get(answer)

    def put(self, answer: str, key: str) -> None:
        if len(self.recent) >= self.size:  # drop the oldest (dicts keep insertion order)
            self.recent.pop(next(iter(self.recent)), None)
        self.recent[answer] = key


_memo = _Memo(MEMO_SIZE)


def remember_keys(keys: dict[str, str]) -> None:
    """Pin known keys (``tts_proxy.replay.key_cache``) so they are never computed again."""
    _memo.pinned.update(keys)


def _pending(answer: str) -> tuple[str | None, str]:
    """(the key if it needs no worker, the normalised text)."""
    if len(answer) > MAX_KEY_INPUT:
        return answer, answer
    s = normalise(answer)
    found = kind(s)
    return (None if found == "symbolic" else cheap_key(s, found)), s


def answer_key(answer: str) -> str:
    """The canonical key of an answer (blocks for a worker when the parser is needed)."""
    key = _memo.get(answer)
    if key is None:
        key, s = _pending(answer)
        if key is None:
            key = workers.shared().call(symbolic_key, (s,), fallback=s)
        _memo.put(answer, key)
    return key


async def answer_keys(answers: Sequence[str]) -> list[str]:
    """Keys of several answers, without blocking the event loop (parser work in workers)."""
    return list(await asyncio.gather(*(_answer_key_async(a) for a in answers)))


async def _answer_key_async(answer: str) -> str:
    key = _memo.get(answer)
    if key is None:
        key, s = _pending(answer)
        if key is None:
            key = await workers.shared().acall(symbolic_key, (s,), fallback=s)
        _memo.put(answer, key)
    return key


def compute_keys(answers: Iterable[str], *, progress: str | None = None) -> dict[str, str]:
    """Keys of many answers at once, parser work spread over every core (for replay data)."""
    keys: dict[str, str] = {}
    symbolic: list[tuple[str, str]] = []
    for answer in answers:
        key, s = _pending(answer)
        if key is None:
            symbolic.append((answer, s))
        else:
            keys[answer] = key
    if symbolic:
        pool = workers.AnswerWorkers(workers.all_cores(), timeout=workers.shared().timeout)
        try:
            calls = [(s,) for _, s in symbolic]
            found = pool.map(symbolic_key, calls, fallback=lambda s: s, progress=progress)
        finally:
            pool.close()
        keys.update((answer, key) for (answer, _), key in zip(symbolic, found, strict=True))
    return keys
