"""Plain arithmetic answers, parsed without math-verify.

``65^2 + 64^2``, ``\\frac{3}{4}``, ``2 \\times 5!``, ``\\binom{10}{3}``, ``3\\sqrt{2}`` or
``9^{9^{9}}`` are read by a small precedence parser into an *unevaluated* sympy tree, in
microseconds and at any nesting depth, so that ``magnitude.size_bits`` can bound it before
anything is computed. math-verify reads the same texts through ANTLR in pure Python (20-300 ms,
minutes with deep nesting), computes ``\\binom{}`` while parsing, and reads ``12!!`` as
``(12!)!``; here it is the double factorial, as mathematics writes it. Anything else (letters,
sets, intervals) gives None and is left to math-verify.
"""

from __future__ import annotations

import re

import sympy

_TOKEN = re.compile(
    r"[ \t]*(?:(?P<number>\d+(?:\.\d+)?|\.\d+)"
    r"|(?P<command>\\(?:cdot|times|div|[dt]?frac|[dt]?binom|sqrt))"
    r"|(?P<op>!!|[-+*/^!(){}\[\]]))"
)
_OPENERS = {"(": ")", "{": "}"}


class NotArithmetic(Exception):
    """The text is not plain arithmetic."""


class _Parser:
    """Recursive descent over the tokens; depth is bounded by the caller's nesting check."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.at = 0

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise NotArithmetic
        self.at += 1
        return token

    def expression(self) -> sympy.Basic:
        value = self.term()
        while self.peek() in ("+", "-"):
            sign = self.take()
            right = self.term()
            if sign == "-":
                right = sympy.Mul(sympy.Integer(-1), right, evaluate=False)
            value = sympy.Add(value, right, evaluate=False)
        return value

    def term(self) -> sympy.Basic:
        value = self.unary()
        while True:
            token = self.peek()
            if token in ("*", "\\cdot", "\\times"):
                self.take()
                value = sympy.Mul(value, self.unary(), evaluate=False)
            elif token in ("/", "\\div"):
                self.take()
                inverse = sympy.Pow(self.unary(), sympy.Integer(-1), evaluate=False)
                value = sympy.Mul(value, inverse, evaluate=False)
            elif token is not None and _starts_primary(token):  # implicit: 2(3), 3\frac{1}{2}
                value = sympy.Mul(value, self.power(), evaluate=False)
            else:
                return value

    def unary(self) -> sympy.Basic:
        token = self.peek()
        if token in ("-", "+"):
            self.take()
            operand = self.unary()
            if token == "+":
                return operand
            if isinstance(operand, sympy.Integer):
                return -operand
            return sympy.Mul(sympy.Integer(-1), operand, evaluate=False)
        return self.power()

    def power(self) -> sympy.Basic:
        base = self.postfix()
        if self.peek() == "^":
            self.take()
            return sympy.Pow(base, self.unary(), evaluate=False)
        return base

    def postfix(self) -> sympy.Basic:
        value = self.primary()
        while self.peek() in ("!", "!!"):
            kind = sympy.factorial if self.take() == "!" else sympy.factorial2
            value = kind(value, evaluate=False)
        return value

    def primary(self) -> sympy.Basic:
        token = self.take()
        if token in _OPENERS:
            inner = self.expression()
            self.take(_OPENERS[token])
            return inner
        if token.endswith("frac"):
            numerator, denominator = self.group(), self.group()
            inverse = sympy.Pow(denominator, sympy.Integer(-1), evaluate=False)
            return sympy.Mul(numerator, inverse, evaluate=False)
        if token.endswith("binom"):
            n, k = self.group(), self.group()
            return sympy.binomial(n, k, evaluate=False)
        if token == "\\sqrt":
            degree: sympy.Basic = sympy.Integer(2)
            if self.peek() == "[":
                self.take()
                degree = self.expression()
                self.take("]")
            inverse = sympy.Pow(degree, sympy.Integer(-1), evaluate=False)
            return sympy.Pow(self.group(), inverse, evaluate=False)
        if token[0].isdigit() or token[0] == ".":
            return sympy.Integer(token) if token.isdigit() else sympy.Rational(token)
        raise NotArithmetic

    def group(self) -> sympy.Basic:
        self.take("{")
        inner = self.expression()
        self.take("}")
        return inner


def _starts_primary(token: str) -> bool:
    return token in _OPENERS or (token[0] in "\\.0123456789" and token not in _INFIX)


_INFIX = {"\\cdot", "\\times", "\\div"}


def tokens(text: str) -> list[str] | None:
    """The arithmetic tokens of ``text``, or None if anything else is in it."""
    out: list[str] = []
    at = 0
    text = text.rstrip()
    while at < len(text):
        m = _TOKEN.match(text, at)
        if m is None or m.end() == at:
            return None
        out.append(m.group(m.lastgroup or "op"))
        at = m.end()
    return out


def parse_arithmetic(text: str) -> sympy.Basic | None:
    """``text`` as an unevaluated sympy expression, or None if it is not plain arithmetic."""
    found = tokens(text)
    if not found:
        return None
    parser = _Parser(found)
    try:
        value = parser.expression()
    except (NotArithmetic, RecursionError, ValueError, TypeError):
        return None
    return value if parser.peek() is None else None
