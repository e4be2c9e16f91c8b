"""How large a number an unevaluated sympy expression stands for, without computing it.

``2025!``, ``12!!`` read as ``(12!)!``, ``9^{9^{9}}`` or ``(1 - 1/2025)^{2024}`` parse in
milliseconds and then take minutes, or all memory, to evaluate or print. ``size_bits`` bounds
the size of every number evaluating an expression would build (in bits, from the leaves up);
callers evaluate only what is below ``MAX_BITS`` and keep the rest unevaluated.
"""

from __future__ import annotations

import math

import sympy
from sympy.functions.elementary.piecewise import ExprCondPair

# About 3,000 decimal digits: below Python's 4,300-digit limit on int <-> str conversion.
MAX_BITS = 10_000
# Trees larger than this are not evaluated at all (a long product costs time, not only size).
MAX_NODES = 400
_UNBOUNDED = math.inf
# A factorial's or power's argument above this is never computed (2^20 is about a million).
_MAX_ARGUMENT_BITS = 20

# Functions whose value is no larger than their arguments' (bits): evaluating them is cheap.
_BOUNDED_FUNCTIONS: tuple[type[sympy.Basic], ...] = (
    sympy.Abs, sympy.sign, sympy.floor, sympy.ceiling, sympy.re, sympy.im, sympy.arg,
    sympy.Min, sympy.Max, sympy.Mod, sympy.log, sympy.sin, sympy.cos, sympy.tan, sympy.cot,
    sympy.sec, sympy.csc, sympy.asin, sympy.acos, sympy.atan, sympy.acot, sympy.sinh,
    sympy.cosh, sympy.tanh, sympy.conjugate,
)  # fmt: skip
# Containers and relations: as large as their largest part.
_CONTAINERS: tuple[type[sympy.Basic], ...] = (
    sympy.Tuple, sympy.FiniteSet, sympy.Interval, sympy.Union, sympy.Intersection,
    sympy.Complement, sympy.Eq, sympy.Ne, sympy.Lt, sympy.Le, sympy.Gt, sympy.Ge, sympy.And,
    sympy.Or, sympy.Not, sympy.Piecewise, ExprCondPair,
)  # fmt: skip


class TooLarge(Exception):
    """The expression would build a number over the limit (or has too many nodes)."""


def size_bits(expr: sympy.Basic, *, max_nodes: int = MAX_NODES) -> float:
    """An upper bound on log2 of the largest number evaluating ``expr`` builds.

    Unknown operations (sums, products, integrals, limits, anything not listed here) count as
    unbounded: they are never evaluated. Raises nothing; ``inf`` means "do not evaluate".
    """
    budget = [max_nodes]
    try:
        return _bits(expr, budget)
    except TooLarge:
        return _UNBOUNDED
    except RecursionError:
        return _UNBOUNDED


def _value_bound(expr: sympy.Basic) -> float | None:
    """|expr| when it is a plain rational number, else None."""
    if isinstance(expr, sympy.Integer):
        return float(abs(int(expr))) if abs(int(expr)).bit_length() < 64 else math.inf
    if isinstance(expr, sympy.Rational):
        p, q = abs(int(expr.p)), int(expr.q)
        if p.bit_length() < 64 and q.bit_length() < 64:
            return p / q
        return math.inf
    return None


def _argument(expr: sympy.Basic, budget: list[int]) -> float:
    """An upper bound on |expr| for a factorial's or power's argument (TooLarge past 2^20)."""
    exact = _value_bound(expr)
    if exact is not None:
        if exact > 2**_MAX_ARGUMENT_BITS:
            raise TooLarge
        return exact
    bits = _bits(expr, budget)
    if bits > _MAX_ARGUMENT_BITS:
        raise TooLarge
    return float(2**bits)


def _bits(expr: sympy.Basic, budget: list[int]) -> float:
    budget[0] -= 1
    if budget[0] < 0:
        raise TooLarge
    if isinstance(expr, sympy.Integer):
        return float(abs(int(expr)).bit_length())
    if isinstance(expr, sympy.Rational):
        return float(max(abs(int(expr.p)).bit_length(), int(expr.q).bit_length()))
    if isinstance(expr, sympy.Float):
        _, mantissa, exponent, bc = expr._mpf_  # value = mantissa * 2^exponent
        return float(abs(exponent) + bc) if mantissa else 0.0
    if isinstance(expr, sympy.Symbol | sympy.NumberSymbol) or expr.is_Atom:
        return 2.0
    if isinstance(expr, sympy.Add):
        return max(_bits(a, budget) for a in expr.args) + math.log2(len(expr.args))
    if isinstance(expr, sympy.Mul):
        return sum(_bits(a, budget) for a in expr.args)
    if isinstance(expr, sympy.Pow):
        base, exponent = expr.args
        return _argument(exponent, budget) * max(1.0, _bits(base, budget))
    if isinstance(expr, sympy.factorial | sympy.factorial2 | sympy.subfactorial):
        n = _argument(expr.args[0], budget)
        return n * math.log2(max(n, 2.0))
    if isinstance(expr, sympy.binomial):
        return _argument(expr.args[0], budget)  # C(n, k) <= 2^n
    if isinstance(expr, _BOUNDED_FUNCTIONS + _CONTAINERS):
        return max((_bits(a, budget) for a in expr.args), default=0.0)
    raise TooLarge  # sums, products, integrals, unknown functions: never evaluated


def evaluable(expr: sympy.Basic) -> bool:
    """Whether evaluating ``expr`` stays under ``MAX_BITS`` and ``MAX_NODES``."""
    return size_bits(expr) <= MAX_BITS
