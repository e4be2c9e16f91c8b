"""Argument types of the command line: each refuses what its flag cannot mean, and argparse
names the flag (``argument --repeats: must be at least 1, got 0``)."""

from __future__ import annotations

import argparse
import math

from tts_proxy.beta import parse_beta


def count(value: str) -> int:
    """A flag that counts something (orderings, rounds, workers, tokens): 1 or more."""
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def positive(value: str) -> float:
    """A flag that is an amount (minutes, seconds, FLOPs): a finite number above 0."""
    n = number(value)
    if not n > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {value}")
    return n


def share(value: str) -> float:
    """A flag that is a share: a number from 0 to 1."""
    n = number(value)
    if not 0 <= n <= 1:
        raise argparse.ArgumentTypeError(f"must be a share from 0 to 1, got {value}")
    return n


def number(value: str) -> float:
    """A flag that is any finite number."""
    try:
        n = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not math.isfinite(n):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {value}")
    return n


def beta(value: str) -> float:
    """A flag that is a beta (``tts_proxy.beta`` says what one is)."""
    try:
        return parse_beta(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
