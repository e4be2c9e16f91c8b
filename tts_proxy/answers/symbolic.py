"""The sympy side of answers: parsing, exact values, keys and equality.

These calls are slow in the worst case -- math-verify parses LaTeX with ANTLR in pure Python
(1-300 ms, far more with deep nesting) and ``verify`` simplifies -- so they run only in
``tts_proxy.answers.workers``' child processes, under a hard time limit, never on the proxy's
event loop. A number is computed only when ``magnitude`` bounds it: ``2025!`` or ``9^{9^{9}}``
keep their unevaluated form, which is their key, so equal texts still vote together.
"""

from __future__ import annotations

import logging

import sympy
from math_verify import parse, verify

from tts_proxy.answers.arithmetic import parse_arithmetic
from tts_proxy.answers.magnitude import evaluable

# math-verify's ANTLR parser costs ~30 ms per nesting level of brackets (minutes at 24 nested
# braces) and grows with length. Of the 9,676 distinct answers in the AIME24 replay data, the
# ones that need it are at most 105 characters long, and 3 of them nest deeper than this.
MAX_LATEX_NESTING = 3
MAX_LATEX_CHARS = 128

# math-verify warns on every call made without its signal-based timeout (which only works in
# the main thread); the workers enforce their own limit.
logging.getLogger("math_verify").setLevel(logging.ERROR)


def nesting(s: str) -> int:
    """The deepest nesting of brackets of any kind in ``s``."""
    depth = deepest = 0
    for c in s:
        if c in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in ")]}":
            depth = max(0, depth - 1)
    return deepest


def parse_answer(text: str) -> sympy.Basic | None:
    """A normalised answer as an unevaluated sympy expression, or None if it does not parse
    (or needs math-verify and is too long or nested too deeply for it)."""
    arithmetic = parse_arithmetic(text)
    if arithmetic is not None:
        return arithmetic
    if len(text) > MAX_LATEX_CHARS or nesting(text) > MAX_LATEX_NESTING:
        return None
    try:
        result = parse(f"${text}$", parsing_timeout=None)
    except Exception:  # math-verify raises assorted errors on odd LaTeX: unparsable
        return None
    first = result[0] if result else None
    return first if isinstance(first, sympy.Basic) else None


def exact(expr: sympy.Basic) -> sympy.Basic:
    """A number's exact value (floats made rational), when it is small enough to compute."""
    if not (expr.is_number and evaluable(expr)):
        return expr
    try:
        value = expr.doit()
        if isinstance(value, sympy.Float):
            value = sympy.nsimplify(value, rational=True)
        return value
    except Exception:  # sympy can fail on exotic numbers; keep the parsed form
        return expr


def printed(expr: sympy.Basic) -> str | None:
    """``str(expr)``, or None when printing fails (a literal past Python's digit limit)."""
    try:
        return str(expr)
    except (ValueError, RecursionError):
        return None


def symbolic_key(text: str) -> str:
    """The key of a normalised answer that needs the parser: its exact value, printed; its
    unevaluated form when too large to compute; the text itself when it does not parse."""
    expr = parse_answer(text)
    if expr is None:
        return text
    return printed(exact(expr)) or text


def symbolic_equal(answer: str, gold: str) -> bool:
    """math-verify's equality of two normalised answers whose keys differ. A number too large
    to compute equals nothing but its own text (the keys compared that already)."""
    a, g = parse_answer(answer), parse_answer(gold)
    if a is None or g is None or not (evaluable(a) and evaluable(g)):
        return False
    a, g = exact(a), exact(g)
    if _far_apart(a, g):
        return False
    try:
        return bool(verify(g, a, timeout_seconds=None))
    except Exception:  # verify can raise on incomparable sympy objects
        return False


def _far_apart(a: sympy.Basic, g: sympy.Basic) -> bool:
    """Whether two numbers differ by far more than any rounding ``verify`` forgives (a cheap
    numeric check that spares it the symbolic work of proving a wrong answer wrong)."""
    if not (a.is_number and g.is_number):
        return False
    try:
        gap = abs(complex(sympy.N(a - g, 20)))
        return gap > 1e-4 * max(1.0, abs(complex(sympy.N(g, 20))))
    except (TypeError, ValueError, OverflowError):  # nan, zoo, not a number after all
        return False


# Shapes that math-verify's ANTLR parser meets: parsing them once fills its prediction cache
# (the first parse of a shape costs several times the later ones).
_WARM_UP = [
    "\\frac{\\sqrt{2}}{2}", "x^2 + 3x + 2", "x^{x^{x}}", "e^{e^{2}}", "\\{\\{1\\}\\}",
    "\\{1, 2, 3\\}", "(1, 2)", "[0, 1)", "\\frac{(x)}{(y)}", "\\sqrt[3]{x}", "a^2 + b^2",
    "\\pi r^2", "2\\sin(x)", "\\log_2(8)", "|x|", "\\infty", "x_1 + x_2", "1e5", "\\theta",
    "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "5\\%",
]  # fmt: skip


def warm_up() -> None:
    """Load the grammar and fill the parser's and sympy's caches before the first timed call."""
    for shape in _WARM_UP:
        symbolic_key(shape)
    symbolic_equal("x+1", "1+x")
    symbolic_equal("46080", "\\frac{9\\sqrt{23}}{23}")
