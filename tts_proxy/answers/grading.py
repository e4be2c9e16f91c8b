"""Grading: is an answer the same as a reference (gold) answer?

Equal keys are equal answers. Two different integers, or anything against a text or a
structural key, are different without the parser. The rest -- ``0.333`` against
``\\frac{1}{3}``, ``x^2-1`` against ``(x-1)(x+1)`` -- goes to math-verify's ``verify`` in an
answer worker, under its time limit (past it: not equal).
"""

from __future__ import annotations

from collections.abc import Iterable

from tts_proxy.answers import workers
from tts_proxy.answers.keys import answer_key, kind, normalise
from tts_proxy.answers.symbolic import symbolic_equal

_PARSED = ("integer", "symbolic")
_grades: dict[tuple[str, str], bool] = {}


def _needs_verify(answer: str, gold: str) -> tuple[bool | None, tuple[str, str]]:
    """(the grade if the parser is not needed, the two normalised texts)."""
    a, g = normalise(answer), normalise(gold)
    if answer_key(answer) == answer_key(gold):
        return True, (a, g)
    ka, kg = kind(a), kind(g)
    if ka not in _PARSED or kg not in _PARSED or ka == kg == "integer":
        return False, (a, g)
    return None, (a, g)


def equivalent(answer: str, gold: str) -> bool:
    """Math-aware equality of an answer with a reference (gold) answer."""
    known = _grades.get((answer, gold))
    if known is None:
        known, texts = _needs_verify(answer, gold)
        if known is None:
            known = workers.shared().call(symbolic_equal, texts, fallback=False)
        _grades[(answer, gold)] = known
    return known


def remember_grades(grades: dict[tuple[str, str], bool]) -> None:
    """Seed known ``equivalent(answer, gold)`` results, keyed by (answer, gold)."""
    _grades.update(grades)


def known_grades() -> dict[tuple[str, str], bool]:
    """Every grade seeded or computed in this process (for the replay's disk cache)."""
    return _grades


def compute_grades(pairs: Iterable[tuple[str, str]], *, progress: str | None = None) -> None:
    """Grade many (answer, gold) pairs at once, parser work spread over every core."""
    pending: list[tuple[tuple[str, str], tuple[str, str]]] = []
    for pair in pairs:
        if pair in _grades:
            continue
        known, texts = _needs_verify(*pair)
        if known is None:
            pending.append((pair, texts))
        else:
            _grades[pair] = known
    if not pending:
        return
    pool = workers.AnswerWorkers(workers.all_cores(), timeout=workers.shared().timeout)
    try:
        calls = [texts for _, texts in pending]
        found = pool.map(symbolic_equal, calls, fallback=lambda *_: False, progress=progress)
    finally:
        pool.close()
    _grades.update((pair, ok) for (pair, _), ok in zip(pending, found, strict=True))
