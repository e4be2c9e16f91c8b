"""Reading answers out of text, and deciding when two answers are the same.

Votes group answers by a canonical key: math-verify parses the answer as LaTeX into a sympy
expression, numbers are brought to exact form (so ``1/2``, ``\\frac{1}{2}`` and ``0.5`` share
one key), and text that is not mathematics (plain words) is compared case-insensitively.
Grading against a gold answer uses math-verify's own ``verify`` on top of the key.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any

import sympy
from math_verify import parse, verify

# math-verify warns on every call made without its signal-based timeout (which only works in
# the main thread); answers here are short, so the warning is noise.
logging.getLogger("math_verify").setLevel(logging.ERROR)

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_PATTERNS = [
    re.compile(r"final answer is\s*:?\s*(.+?)\s*(?:\.\s|\.?$|\n)", re.IGNORECASE | re.MULTILINE),
    re.compile(r"the answer is\s*:?\s*(.+?)\s*(?:\.\s|\.?$|\n)", re.IGNORECASE | re.MULTILINE),
    re.compile(r"(?:^|\n)\s*\**(?:final )?answer\**\s*:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE),
    re.compile(r"####\s*(.+?)\s*$", re.MULTILINE),
]
_WORD = re.compile(r"[A-Za-z][A-Za-z' ]*")
# A bare word of three or more letters (not a LaTeX command) marks prose, not mathematics.
_PROSE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{3,}")
_INTEGER = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+|[-+]?\d+")
_CANONICAL_INTEGER = re.compile(r"-?\d+")
_TEXT_WRAPPER = re.compile(r"\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}")


def match_braces(text: str, start: int = 0) -> str | None:
    """Content from ``start`` (just after an opening brace) to its matching close, or None."""
    depth = 1
    for i in range(start, len(text)):
        c = text[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
    return None


def extract_boxed(text: str) -> str | None:
    """The content of the last complete ``\\boxed{...}`` in ``text``."""
    for m in reversed(list(_BOXED.finditer(text))):
        content = match_braces(text, m.end())
        if content is not None:
            return content.strip()
    return None


def extract_answer(text: str) -> str | None:
    """The final answer a text gives: ``\\boxed{}`` first, then final-answer phrases."""
    boxed = extract_boxed(text)
    if boxed:
        return boxed
    for pattern in _PATTERNS:
        matches = pattern.findall(text)
        if matches:
            cleaned = clean_answer(matches[-1])
            if cleaned and "\\boxed" not in cleaned:  # an empty box left for the phrases
                return cleaned
    return None


def extract_probe_answer(generated: str) -> str | None:
    """The answer a probe produced after a suffix ending in ``\\boxed{``."""
    content = match_braces(generated, 0)
    if content is None:
        # Truncated: accept a short single-line tail rather than nothing.
        line = generated.split("\n", 1)[0].strip()
        content = line if 0 < len(line) <= 32 else None
    return clean_answer(content) if content else None


def clean_answer(answer: str) -> str:
    """Strip the wrapping that does not change an answer: ``$``, bold, a final period."""
    s = answer.strip().strip("*").strip()
    s = s.strip("$").strip()
    s = s.rstrip(".").strip()
    return s


def normalise(answer: str) -> str:
    s = clean_answer(answer)
    s = _TEXT_WRAPPER.sub(r"\1", s)
    s = s.replace("\\!", "").replace("\\left", "").replace("\\right", "")
    s = re.sub(r"\^\s*\{?\\circ\}?", "", s)
    return s.strip()


@lru_cache(maxsize=65536)
def _parsed(answer: str) -> Any | None:
    try:
        result = parse(f"${answer}$", parsing_timeout=None)
    except Exception:  # math-verify raises assorted errors on odd LaTeX: treat as unparsable
        return None
    return result[0] if result else None


def _exact(expr: Any) -> Any:
    if isinstance(expr, sympy.Basic) and expr.is_number:
        try:
            value = expr.doit()
            if isinstance(value, sympy.Float):
                value = sympy.nsimplify(value, rational=True)
            return value
        except Exception:  # sympy can fail on exotic numbers; keep the parsed form
            return expr
    return expr


_REMEMBERED: dict[str, str] = {}
_REMEMBERED_GRADES: dict[tuple[str, str], bool] = {}


def answer_key(answer: str) -> str:
    """Canonical key of an answer: equal keys vote together."""
    key = _REMEMBERED.get(answer)
    return key if key is not None else _computed_key(answer)


def remember_keys(keys: dict[str, str]) -> None:
    """Seed known keys (from ``tts_proxy.replay.key_cache``) so they are not recomputed."""
    _REMEMBERED.update(keys)


def remember_grades(grades: dict[tuple[str, str], bool]) -> None:
    """Seed known ``equivalent(answer, gold)`` results, keyed by (answer, gold)."""
    _REMEMBERED_GRADES.update(grades)


def known_grades() -> dict[tuple[str, str], bool]:
    """Every grade seeded or computed in this process (for the replay's disk cache)."""
    return _REMEMBERED_GRADES


@lru_cache(maxsize=65536)
def _computed_key(answer: str) -> str:
    s = normalise(answer)
    if not s:
        return ""
    if _INTEGER.fullmatch(s):  # the common case, without a trip through the LaTeX parser
        return str(int(s.replace(",", "")))
    if (_WORD.fullmatch(s) and len(s) > 1) or _PROSE.search(s):
        # Text, not mathematics: math-verify would read "yajo" as the product y*a*j*o, and
        # parsing a sentence is slow and meaningless.
        return " ".join(s.lower().split())
    expr = _parsed(s)
    if expr is None or isinstance(expr, str):
        return s
    return str(_exact(expr))


def equivalent(answer: str, gold: str) -> bool:
    """Math-aware equality of an answer with a reference (gold) answer."""
    known = _REMEMBERED_GRADES.get((answer, gold))
    if known is None:
        known = _REMEMBERED_GRADES[(answer, gold)] = _verified(answer, gold)
    return known


def _verified(answer: str, gold: str) -> bool:
    key, gold_key = answer_key(answer), answer_key(gold)
    if key == gold_key:
        return True
    if _CANONICAL_INTEGER.fullmatch(key) and _CANONICAL_INTEGER.fullmatch(gold_key):
        return False  # two different integers: no need to ask the parser
    a, g = _parsed(normalise(answer)), _parsed(normalise(gold))
    if a is None or g is None:
        return False
    try:
        return bool(verify(g, a, timeout_seconds=None))
    except Exception:  # verify can raise on incomparable sympy objects
        return False
