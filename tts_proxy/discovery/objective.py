"""Discovery's one objective, and the selection that maximises it.

A shipped controller is a chain of operating points (knots: a controller at one of its
betas), cheapest first, that one beta knob runs through. Its value on the search set:

- each knot's accuracy is taken at a **lower confidence bound**: the 5th percentile of a
  bootstrap over the orderings it was measured on (``lower_bound``);
- on each search environment, the chain's bound at every budget -- linear in tokens between
  knots, flat past its last, nothing below its first -- is averaged over log tokens across
  the built-ins' budgets there (so each budget decade weighs the same; a point cheaper or
  dearer than every built-in is out of scope);
- the chain's value is the **minimum over the search environments of that less the most a
  chain of built-in points reaches there** (it must hold up on each model, not only on their
  mean; a weak model's low accuracy does not decide for the others);
- subject to cost rising along the chain on every search environment (so it rises with beta
  on each), and to **one noise margin**: a hop from one controller to another must raise the
  bound by at least the median bootstrap half-width of the points (``noise_margin``) -- a
  smaller gain is indistinguishable from the orderings' luck.

``select`` finds the chain: a longest path over knots in order of cost, keeping at each knot
the partial chains that no other beats on every environment. A parameter-search
candidate's value is what its points add to the chain of the built-ins alone (``gain``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tts_proxy.discovery.curves import Curve

Source = int | str  # a search candidate's id, or a built-in's name
# The built-ins whose points are the references (the learned rule, new, is not one of them).
BUILTINS = ("sc", "asc", "esc", "probe_exit", "parallel_probe", "cmc")
CONFIDENCE = 0.05  # the bound's quantile
BOOTSTRAP = 1000


def lower_bound(orderings: Sequence[float], mean: float) -> float:
    """The 5th percentile of the mean over a bootstrap of ``orderings`` (seeded, so the same
    figures give the same bound); ``mean`` when there are fewer than two."""
    if len(orderings) < 2:
        return mean
    values = np.asarray(orderings, dtype=float)
    draws = np.random.default_rng(0).choice(values, size=(BOOTSTRAP, len(values)))
    return float(np.quantile(draws.mean(axis=1), CONFIDENCE))


@dataclass(frozen=True, slots=True)
class Knot:
    """An operating point on the search set: ``source`` at ``beta``; per search environment,
    its tokens per question, mean accuracy and lower bound."""

    source: Source
    beta: float
    costs: tuple[float, ...]
    accuracy: tuple[float, ...]
    lower: tuple[float, ...]

    @property
    def builtin(self) -> bool:
        return isinstance(self.source, str)

    @property
    def tokens(self) -> float:
        return sum(self.costs) / len(self.costs)

    @property
    def mean_accuracy(self) -> float:
        return sum(self.accuracy) / len(self.accuracy)

    @property
    def mean_lower(self) -> float:
        return sum(self.lower) / len(self.lower)


def knots_of(source: Source, curve: Curve) -> list[Knot]:
    """A curve's points as knots (its per-environment points, in the curve's order)."""
    envs = [pts for _, pts in curve.per_environment] or [curve.points]
    out = []
    for i, p in enumerate(curve.points):
        at = [pts[i] for pts in envs]
        out.append(Knot(source, p.beta, tuple(q.tokens for q in at),
                        tuple(q.accuracy for q in at),
                        tuple(lower_bound(q.orderings, q.accuracy) for q in at)))  # fmt: skip
    return out


def noise_margin(knots: Iterable[Knot]) -> float:
    """The median half-width of the knots' bounds: how far the orderings' luck moves a point."""
    widths = sorted(a - lo for k in knots for a, lo in zip(k.accuracy, k.lower, strict=True))
    return widths[len(widths) // 2] if widths else 0.0


def dominated(knot: Knot, others: Iterable[Knot]) -> bool:
    """Another point costs no more and bounds no lower on every environment, and differs."""
    return any(
        o is not knot
        and all(c <= d for c, d in zip(o.costs, knot.costs, strict=True))
        and all(a >= b for a, b in zip(o.lower, knot.lower, strict=True))
        and (o.costs != knot.costs or o.lower != knot.lower)
        for o in others
    )


def may_follow(a: Knot, b: Knot, margin: float) -> bool:
    """Cost rises on every environment; along one controller beta rises too; a hop between
    controllers gains at least ``margin`` on the bound."""
    if not all(new > old for new, old in zip(b.costs, a.costs, strict=True)):
        return False
    if a.source == b.source:
        return b.beta > a.beta
    return b.mean_lower >= a.mean_lower + margin


@dataclass(frozen=True, slots=True)
class Range:
    """Per environment, the log-token span every budget of the pool lies in, and the
    ``baseline``: the most mean bound a chain of built-in points reaches on it alone."""

    low: tuple[float, ...]
    high: tuple[float, ...]
    baseline: tuple[float, ...]

    @classmethod
    def of(cls, knots: Sequence[Knot], margin: float = 0.0) -> Range:
        """The built-ins' budgets (every point's when there are no built-ins among them)."""
        envs = range(len(knots[0].costs))
        builtins = [k for k in knots if k.builtin]
        spanning = builtins or knots
        low = tuple(math.log(min(k.costs[e] for k in spanning)) for e in envs)
        high = tuple(math.log(max(k.costs[e] for k in spanning)) for e in envs)
        zero = cls(low, high, tuple(0.0 for _ in envs))
        builtins = sorted((k for k in builtins if not dominated(k, builtins)), key=_cheapest)
        if not builtins:
            return zero
        baseline = []
        for e in envs:  # the other environments out of the minimum: this one alone
            alone = cls(low, high, tuple(0.0 if i == e else -1e9 for i in envs))
            baseline.append(areas(_best_chain(builtins, alone, margin), zero)[e])
        return cls(low, high, tuple(baseline))

    def contains(self, k: Knot) -> bool:
        """Whether ``k`` spends within the span on every environment."""
        logs = [math.log(c) for c in k.costs]
        return all(
            lo - 1e-9 <= x <= hi + 1e-9 for x, lo, hi in zip(logs, self.low, self.high, strict=True)
        )


def _cheapest(k: Knot) -> tuple[float, float]:
    return (k.tokens, -k.mean_lower)


def _segment(a: Knot, b: Knot, e: int) -> float:
    """The integral over log tokens of the bound's line from ``a`` to ``b`` (linear in
    tokens) on environment ``e``."""
    ca, cb, ya, yb = a.costs[e], b.costs[e], a.lower[e], b.lower[e]
    span = math.log(cb / ca)
    rising = 1 - ca * span / (cb - ca)  # the integral of the line's 0..1 ramp over log tokens
    return ya * span + (yb - ya) * rising


def areas(chain: Sequence[Knot], span: Range) -> tuple[float, ...]:
    """Per environment, the chain's bound averaged over log tokens across ``span``."""
    out = []
    for e in range(len(span.low)):
        width = span.high[e] - span.low[e]
        if width <= 0:
            out.append(max(k.lower[e] for k in chain))
            continue
        inside = sum(_segment(a, b, e) for a, b in itertools.pairwise(chain))
        tail = chain[-1].lower[e] * (span.high[e] - math.log(chain[-1].costs[e]))
        out.append((inside + tail) / width)
    return tuple(out)


def value(chain: Sequence[Knot], span: Range) -> float:
    """The objective: over the environments, the worst of the chain's mean bound less the
    built-ins' best there (below 0: short of what the built-ins reach on some model)."""
    if not chain:
        return -1.0
    return min(a - b for a, b in zip(areas(chain, span), span.baseline, strict=True))


@dataclass(frozen=True, slots=True)
class _Label:
    """A chain ending at one knot: its area so far on each environment, and how it came."""

    areas: tuple[float, ...]
    at: int
    previous: _Label | None


LABELS_PER_KNOT = 48  # partial chains kept per knot (all of them unless there are more)


def _pareto(labels: list[_Label], score: Callable[[_Label], float]) -> list[_Label]:
    """The labels no other beats on every environment (the best ``LABELS_PER_KNOT`` by
    ``score`` when more remain)."""
    labels.sort(key=lambda lab: -sum(lab.areas))
    two = bool(labels) and len(labels[0].areas) == 2
    kept = _front_of_two(labels) if two else _front(labels)
    return sorted(kept, key=score, reverse=True)[:LABELS_PER_KNOT]


def _front(labels: Sequence[_Label]) -> list[_Label]:
    """In order, the labels that no earlier one equals or beats on every environment."""
    kept: list[_Label] = []
    for lab in labels:
        if not any(all(x >= y for x, y in zip(k.areas, lab.areas, strict=True)) for k in kept):
            kept.append(lab)
    return kept


def _front_of_two(labels: Sequence[_Label]) -> list[_Label]:
    """``_front`` on two environments (the usual case: two search models) by one sweep: in
    order of the first area falling (ties: the second falling, then as given), a label is
    equalled or beaten by an earlier one exactly when its second area tops no earlier one's."""
    best = -math.inf
    kept: set[int] = set()
    for i in sorted(range(len(labels)), key=lambda i: (-labels[i].areas[0], -labels[i].areas[1])):
        if labels[i].areas[1] > best:
            best = labels[i].areas[1]
            kept.add(i)
    return [lab for i, lab in enumerate(labels) if i in kept]


def _best_chain(order: Sequence[Knot], span: Range, margin: float) -> list[Knot]:
    """The chain of highest ``value``: a longest path over the knots in order of cost that
    keeps, at each knot, every partial chain no other beats on every environment (the
    minimum over environments is not a sum, so one best partial chain per knot would not do)."""
    envs = range(len(span.low))
    widths = [max(span.high[e] - span.low[e], 1e-12) for e in envs]

    def tail(k: Knot) -> tuple[float, ...]:
        return tuple(k.lower[e] * (span.high[e] - math.log(k.costs[e])) / widths[e] for e in envs)

    tails = [tail(k) for k in order]

    def final(lab: _Label) -> float:
        ends = zip(lab.areas, tails[lab.at], span.baseline, strict=True)
        return min(a + t - b for a, t, b in ends)

    labels: list[list[_Label]] = []
    for j, b in enumerate(order):
        here = [_Label(tuple(0.0 for _ in envs), j, None)]
        for i in range(j):
            if may_follow(order[i], b, margin):
                step = [_segment(order[i], b, e) / widths[e] for e in envs]
                here += [
                    _Label(tuple(x + d for x, d in zip(lab.areas, step, strict=True)), j, lab)
                    for lab in labels[i]
                ]
        labels.append(_pareto(here, final))
    best = max((lab for per in labels for lab in per), key=final)
    chain: list[Knot] = []
    at: _Label | None = best
    while at is not None:
        chain.append(order[at.at])
        at = at.previous
    return chain[::-1]


def select(knots: Iterable[Knot], margin: float | None = None) -> list[Knot]:
    """The chain of highest ``value`` under the constraints, cheapest first.

    Dominated points are left out first (swapping one for what dominates it never lowers the
    value); ``margin`` defaults to ``noise_margin`` of the pool."""
    pool = list(knots)
    if not pool:
        return []
    margin = noise_margin(pool) if margin is None else margin
    span = Range.of(pool, margin)
    kept = [k for k in pool if span.contains(k) and not dominated(k, pool)]
    return _best_chain(sorted(kept, key=_cheapest), span, margin) if kept else []


def gain(candidate: Curve, references: Mapping[str, Curve]) -> float:
    """What a candidate adds to the built-ins' chain, in accuracy points of the objective."""
    base = [k for name, curve in references.items() for k in knots_of(name, curve)]
    both = base + knots_of(-1, candidate)
    margin = noise_margin(base)
    span = Range.of(both, margin)
    return 100 * (value(select(both, margin), span) - value(select(base, margin), span))
