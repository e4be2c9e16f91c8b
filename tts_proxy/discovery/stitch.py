"""Stitching: one beta knob along the best operating points of several controllers.

Each parameter-search candidate and each built-in is a curve: at each beta, a cost and an
accuracy on the search set. No one of them is best at every budget -- one probed branch wins
the cheap end, a wide, patient search the dear one -- so the shipped controller follows a
frontier of their operating points (knots), cheapest first. Beta is spread over the knots by
log cost; between two knots of one controller it runs that controller between their betas,
between knots of two it steps from one to the other halfway. Cost stays monotone in beta:
the knots rise in cost on every search environment and each controller is monotone.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tts_proxy.controllers.base import Controller
from tts_proxy.controllers.document import Calibration, ControllerDocument, spec_of
from tts_proxy.controllers.stitched import Piece, Stitched

Source = int | str  # a search candidate's id, or a built-in's name


@dataclass(frozen=True, slots=True)
class Knot:
    """An operating point: a controller (``candidate``: a search candidate's id, or a
    built-in's name) at one of its betas, on the search set (``costs``: tokens per question on
    each search environment; ``tokens``: their mean)."""

    candidate: Source
    beta: float
    tokens: float
    accuracy: float
    costs: tuple[float, ...] = ()

    @property
    def builtin(self) -> bool:
        return isinstance(self.candidate, str)


def _dearer(b: Knot, a: Knot, min_rise: float) -> bool:
    """``b`` costs at least ``min_rise`` (relative) more than ``a`` on every search environment,
    not only on their mean: controllers of different shapes scale differently from one model
    to the next, and the stitched cost must rise with beta on each."""
    pairs = zip((b.tokens, *b.costs), (a.tokens, *a.costs), strict=True)
    return all(new >= old * (1 + min_rise) for new, old in pairs)


def _step(a: Knot, b: Knot, min_rise: float, min_gain: float) -> bool:
    """May ``b`` follow ``a``? Along one controller, any higher beta that costs more and is no
    worse: the stitched knob runs that controller through every point between them. From one
    controller to another (a hop), only with a clear gain in accuracy and a clear rise in cost
    on every search environment -- by ``min_rise``, and by more than the rise itself varies
    between them: two controllers' costs scale differently from model to model, and a new
    model may differ from the search models as much as they differ from each other."""
    if a.candidate == b.candidate and b.beta > a.beta:
        return _dearer(b, a, 0.0) and b.tokens > a.tokens and b.accuracy >= a.accuracy
    rises = [new / old for new, old in zip(b.costs, a.costs, strict=True)] or [b.tokens / a.tokens]
    spread = max(rises) / min(rises)
    return _dearer(b, a, min_rise) and min(rises) >= spread and b.accuracy >= a.accuracy + min_gain


def _beaten(knot: Knot, others: Iterable[Knot], min_rise: float, min_gain: float) -> bool:
    """Another point at no more cost and ``min_gain`` more accurate, or at ``min_rise`` less
    cost and as accurate: ``knot`` is clearly worse than something there is."""
    return any(
        (o.tokens <= knot.tokens and o.accuracy >= knot.accuracy + min_gain)
        or (o.tokens * (1 + min_rise) <= knot.tokens and o.accuracy >= knot.accuracy)
        for o in others
        if o is not knot
    )


def _matched_by_builtin(
    knot: Knot, builtins: Sequence[Knot], min_rise: float, min_gain: float
) -> bool:
    """A built-in's point as good within noise: at most ``min_rise`` dearer, at most
    ``min_gain`` less accurate. A searched point must beat the built-ins clearly to be
    followed: it was picked because it did well on the search set, so a tie there is no
    evidence that it does better anywhere else."""
    return any(
        b.tokens <= knot.tokens * (1 + min_rise) and b.accuracy >= knot.accuracy - min_gain
        for b in builtins
    )


def _area(a: Knot, b: Knot) -> float:
    """The area under the line from ``a`` to ``b`` (linear in tokens, as curves are compared)
    over log tokens, so that every budget decade weighs the same."""
    span = math.log(b.tokens / a.tokens)
    rising = 1 - a.tokens * span / (b.tokens - a.tokens)  # the integral of the line's 0..1 ramp
    return a.accuracy * span + (b.accuracy - a.accuracy) * rising


def _chain(
    knots: Sequence[Knot], must: Sequence[Knot], min_rise: float, min_gain: float
) -> list[Knot] | None:
    """The chain of most area to the most accurate knot it can reach past the last of
    ``must``, skipping none of ``must``, from the cheapest knot (with ``must``: from the
    first of them or any cheaper knot); None when there is none."""
    order = sorted(knots, key=lambda k: (k.tokens, -k.accuracy))
    required = [any(k is m for m in must) for k in order]
    # Longest path over a DAG in order of cost: area[j] = the best chain that ends at j. It
    # starts at the first of ``must`` or at any cheaper knot that can reach it.
    first = required.index(True) if must else 0
    area: list[float | None] = [0.0 if i <= first else None for i in range(len(order))]
    previous: list[int | None] = [None] * len(order)
    for j, b in enumerate(order[1:], start=1):
        for i in range(j - 1, -1, -1):
            a, reached = order[i], area[i]
            if reached is not None and _step(a, b, min_rise, min_gain):
                gained = reached + _area(a, b)
                if area[j] is None or gained > area[j]:  # type: ignore[operator]
                    area[j], previous[j] = gained, i
            if required[i]:
                break  # an edge from further back would skip it
    last = max((i for i, r in enumerate(required) if r), default=0)
    ends = [j for j in range(last, len(order)) if area[j] is not None]
    if not ends:
        return None
    at: int | None = max(ends, key=lambda j: (order[j].accuracy, -order[j].tokens))
    chain: list[Knot] = []
    while at is not None:
        chain.append(order[at])
        at = previous[at]
    return chain[::-1]


def frontier(knots: Iterable[Knot], min_rise: float = 0.1, min_gain: float = 0.005) -> list[Knot]:
    """The knots to stitch, cheapest first.

    1. The built-ins' own frontier is kept: every built-in point that no other built-in point
       clearly beats (``_beaten``), in order of cost, each one that may follow the last
       (``_step``), less detours to a third controller that do not clearly pay
       (``_without_detours``). The stitched controller passes through every one of them, so
       on a new model it is exactly as good as the best built-in there; searched points can
       only add knots between and beyond them.
    2. Searched points that a built-in's point matches within the margins are left out.
    3. Through the points of 1 and 2, the chain with the most area under its accuracy (linear
       between knots) over log cost, from the first point of 1 (or a cheaper searched one)
       to the most accurate one it can reach past the last point of 1, skipping none of
       them. A hop between controllers must gain at least ``min_gain`` (a smaller gain is
       noise: following it would hop for nothing) and rise in cost on every search
       environment (``_step``).
    4. From there on, the last controller's own points up to its beta 1 (``_to_the_top``).
    """
    pool = list(knots)
    builtins = [k for k in pool if k.builtin]
    searched = [k for k in pool if not k.builtin]
    searched = [k for k in searched if not _matched_by_builtin(k, builtins, min_rise, min_gain)]
    own: list[Knot] = []
    for k in sorted(builtins, key=lambda k: (k.tokens, -k.accuracy, k.beta)):
        if _beaten(k, builtins, min_rise, min_gain) or (own and k.tokens == own[-1].tokens):
            continue
        if not own or _step(own[-1], k, min_rise, min_gain):
            own.append(k)
    own = _without_detours(own, builtins, min_gain)
    # Built-ins enter through their frontier only: a point left out there is beaten or a
    # detour, and a hop to it for area would bring it back.
    chain = _chain(own + searched, own, min_rise, min_gain) or _chain(
        own + searched, (), min_rise, min_gain
    )
    return _to_the_top(chain, builtins + searched) if chain else []


def _without_detours(points: list[Knot], pool: Sequence[Knot], min_gain: float) -> list[Knot]:
    """``points`` (cheapest first) without detours: runs of one controller's points between
    points of others that do not add ``min_gain`` of area per unit of log cost over the path
    without them -- the line between their neighbours or, when both neighbours are one
    controller, that controller's own points between them (from ``pool``). A detour hops
    twice, and like any hop it must pay: points of another controller that only tie are
    noise on the search models, the long line back passes under the curve it left, and on
    the next model the detour may be a dip (a higher beta spending more for less)."""
    kept = list(points)
    while True:
        runs = [
            list(g) for _, g in itertools.groupby(range(len(kept)), lambda i: kept[i].candidate)
        ]
        for run in reversed(runs[1:-1]):  # a run at either end is no detour
            before, after = kept[run[0] - 1], kept[run[-1] + 1]
            through = _path_area([before, *(kept[i] for i in run), after])
            around = _path_area(_path_without(before, after, pool))
            if through <= around + min_gain * math.log(after.tokens / before.tokens):
                del kept[run[0] : run[-1] + 1]
                break
        else:
            return kept


def _path_without(before: Knot, after: Knot, pool: Sequence[Knot]) -> list[Knot]:
    """The path from ``before`` to ``after`` with no knot between: straight, or through their
    controller's own points when they share one (the knob runs it through them)."""
    path = [before]
    if before.candidate == after.candidate:
        own = (k for k in pool if k.candidate == before.candidate)
        for k in sorted(own, key=lambda k: k.beta):
            if before.beta < k.beta < after.beta and path[-1].tokens < k.tokens < after.tokens:
                path.append(k)
    return [*path, after]


def _path_area(path: Sequence[Knot]) -> float:
    return sum(_area(a, b) for a, b in itertools.pairwise(path))


def _to_the_top(chain: list[Knot], knots: Sequence[Knot]) -> list[Knot]:
    """The chain run on along its last controller to that controller's dearest point: beta 1
    buys the most the user will pay for, and a top that is flat on the search models is no
    evidence that it is flat on another (a weaker model keeps gaining from more samples)."""
    top = chain[-1]
    onward = sorted(
        (k for k in knots if k.candidate == top.candidate and k.beta > top.beta),
        key=lambda k: k.beta,
    )
    for k in onward:
        if _dearer(k, chain[-1], 0.0) and k.tokens > chain[-1].tokens:
            chain.append(k)
    return chain


def positions(knots: Sequence[Knot]) -> list[float]:
    """Each knot's beta in the stitched controller: spread over [0, 1] by log cost."""
    if len(knots) == 1:
        return [0.0]
    low, high = math.log(knots[0].tokens), math.log(knots[-1].tokens)
    return [round((math.log(k.tokens) - low) / (high - low), 4) for k in knots]


def pieces(
    knots: Sequence[Knot], controllers: Mapping[Source, type[Controller]]
) -> tuple[Piece, ...]:
    """The stitched beta map through ``knots`` (cheapest first; ``controllers`` by source)."""
    if len(knots) == 1:
        only = knots[0]
        return (Piece(0.0, 1.0, controllers[only.candidate], only.beta, only.beta),)
    out: list[Piece] = []

    def add(piece: Piece) -> None:
        last = out[-1] if out else None
        if (
            last
            and last.controller is piece.controller
            and last.lo == last.hi == piece.lo == piece.hi
        ):
            out[-1] = Piece(last.start, piece.end, piece.controller, piece.lo, piece.hi)
        else:
            out.append(piece)

    pairs = zip(itertools.pairwise(knots), itertools.pairwise(positions(knots)), strict=True)
    for (a, b), (start, end) in pairs:
        first, second = controllers[a.candidate], controllers[b.candidate]
        if a.candidate == b.candidate:
            add(Piece(start, end, first, a.beta, b.beta))
        else:
            middle = round((start + end) / 2, 4)
            add(Piece(start, middle, first, a.beta, a.beta))
            add(Piece(middle, end, second, b.beta, b.beta))
    return tuple(out)


def controller_class(
    name: str, knots: Sequence[Knot], controllers: Mapping[Source, type[Controller]]
) -> type[Stitched]:
    """A stitched controller class, for in-process evaluation."""
    return type(name, (Stitched,), {"name": name, "pieces": pieces(knots, controllers)})


def document(
    name: str,
    knots: Sequence[Knot],
    controllers: Mapping[Source, type[Controller]],
    description: str,
    calibrated: Calibration | None = None,
) -> ControllerDocument:
    """The shipped controller document: the pieces, each a built-in or a searched CMC setting."""
    cls = controller_class(name, knots, controllers)
    return ControllerDocument(
        name=name, description=description, calibrated=calibrated, controller=spec_of(cls)
    )
