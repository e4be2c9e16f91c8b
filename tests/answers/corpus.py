"""A corpus of hostile answers: what reasoning models really write (``2025!``, ``12!!``,
``9^{9^{9}}`` appear in Qwen3 trajectories on competition mathematics) and what makes
parsers and evaluators suffer (huge numbers, deep nesting, long texts, odd characters).
Used by the property tests and by ``benchmarks/hostile_answers.py``."""

from __future__ import annotations

HOSTILE = [
    # Seen in real trajectories.
    "2025!", "12!!", "9^{9^{9}}", "10^{10^{6}}", "\\frac{1}{2025!}",
    "2025 \\cdot \\left(1 - \\frac{1}{2025}\\right)^{2024}",
    # Huge numbers of every kind.
    "(10^{10})!", "2^{2^{2^{2^{2^{5}}}}}", "\\binom{10^{9}}{5 \\cdot 10^{8}}",
    "\\binom{100000}{50000}", "1" * 5000, "1e1000000", "10^{-100000}", "(2^{100})^{(2^{100})}",
    "\\prod_{i=1}^{10^{9}} i", "\\sum_{k=1}^{10^{12}} k^{k}", "(x+1)^{10^{9}}", "x^{x^{x^{x}}}",
    "\\sqrt[10^{9}]{2}", "99999999999999999999!", "\\frac{10^{10^{5}}}{3}", "e^{e^{e^{79}}}",
    # Deep nesting and long texts (the LaTeX parser's time grows with both).
    "(" * 200 + "1" + ")" * 200, "\\sqrt{" * 30 + "2" + "}" * 30, "{" * 24 + "1" + "}" * 24,
    "\\frac{((((x))))}{2}", "\\frac{(((x)))}{(((y)))}", "\\{\\{\\{\\{1\\}\\}\\}\\}",
    "+".join(["x"] * 120), "+".join(["1"] * 120), "\\left(" * 6 + "x" + "\\right)" * 6,
    # Odd characters.
    "\x00" * 10 + "42", "\u202e42\u202c", "4\u200b2", "\ud800", "\\text{\U0001f600}",
    "\\frac{1}{0}", "0^{0}", "\\infty - \\infty", "(-1)^{1/2}", "\\log(0)",
]  # fmt: skip
