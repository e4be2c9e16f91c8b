"""Reading the answer out of a text a model wrote: ``\\boxed{}`` first, then final-answer phrases.

Model text is hostile input, so every function here runs in time linear in the text's length:
braces are matched in one pass, and the phrases are found by patterns with no repetition that
can overlap (the value after a phrase is cut out by plain string search, not by a pattern).
"""

from __future__ import annotations

import re

# Longer than this, a box or a phrase's value is not an answer (a real one is a few symbols).
MAX_ANSWER_CHARS = 2000
# A truncated probe (no closing brace) still answers when its first line is this short.
MAX_TRUNCATED_PROBE_CHARS = 32

_FULL_STOP = re.compile(r"\.[ \t\r]")
_BOXED = re.compile(r"\\(?:boxed|fbox)[ \t]*\{")
# Tried in this order; the last occurrence of the first phrase found gives the answer.
_PHRASES = [
    re.compile(r"final answer is[ \t]*:?", re.IGNORECASE),
    re.compile(r"the answer is[ \t]*:?", re.IGNORECASE),
    # Runs of blanks and stars are separated (``[ \t]*(?:\*+[ \t]*)?``) so that no blank can
    # be matched two ways: a long blank run costs one pass, not a quadratic search.
    re.compile(
        r"(?:^|\n)[ \t]*(?:\*+[ \t]*)?(?:final[ \t]+)?answer[ \t]*(?:\*+[ \t]*)?:", re.IGNORECASE
    ),
    re.compile(r"####"),
]


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
    """The content of the last complete ``\\boxed{...}`` in ``text`` (one pass over it)."""
    opens = {m.end() for m in _BOXED.finditer(text)}
    if not opens:
        return None
    best: tuple[int, int] | None = None  # (content start, content end) of the last closed box
    stack: list[int] = []
    for i in range(min(opens) - 1, len(text)):
        c = text[i]
        if c == "{":
            stack.append(i + 1)
        elif c == "}" and stack:
            start = stack.pop()
            if start in opens and (best is None or start > best[0]):
                best = (start, i)
    if best is None:
        return None
    content = text[best[0] : best[1]].strip()
    return content if len(content) <= MAX_ANSWER_CHARS else None


def _after_phrase(text: str, end: int) -> str:
    """The value a phrase introduces: the next non-blank line's text up to the sentence end."""
    i, n = end, len(text)
    while i < n and text[i] in " \t\r\n":
        i += 1
    stop = text.find("\n", i, i + MAX_ANSWER_CHARS + 1)
    line = text[i : stop if stop >= 0 else i + MAX_ANSWER_CHARS + 1]
    full_stop = _FULL_STOP.search(line)  # ends the value; the point in "3.5" does not
    return line[: full_stop.start()] if full_stop else line


def is_answer(value: str) -> bool:
    """Whether a phrase's value can be an answer: short, not a box, not a label (``Options:``)."""
    return 0 < len(value) <= MAX_ANSWER_CHARS and "\\boxed" not in value and value[-1] != ":"


def extract_answer(text: str) -> str | None:
    """The final answer a text gives: ``\\boxed{}`` first, then final-answer phrases."""
    boxed = extract_boxed(text)
    if boxed:
        return boxed
    for pattern in _PHRASES:
        last = None
        for last in pattern.finditer(text):  # noqa: B007 -- only the last one is wanted
            pass
        if last is not None:
            value = clean_answer(_after_phrase(text, last.end()))
            if is_answer(value):
                return value
    return None


def extract_probe_answer(generated: str) -> str | None:
    """The answer a probe produced after a suffix ending in ``\\boxed{``."""
    content = match_braces(generated, 0)
    if content is None:
        # Truncated: accept a short single-line tail rather than nothing.
        line = generated.split("\n", 1)[0].strip()
        content = line if 0 < len(line) <= MAX_TRUNCATED_PROBE_CHARS else None
    if content is None or len(content) > MAX_ANSWER_CHARS:
        return None
    return clean_answer(content) or None


def clean_answer(answer: str) -> str:
    """Strip the wrapping that does not change an answer: ``$``, bold, a final period."""
    s = answer.strip().strip("*").strip().rstrip(".").strip()
    s = s.strip("$").strip()
    return s.rstrip(".").strip()
