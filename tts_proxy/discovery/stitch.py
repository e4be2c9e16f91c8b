"""Rendering a chosen chain (``objective.select``) as one beta knob.

Beta is spread over the knots by log cost; between two knots of one controller it runs that
controller between their betas, between knots of two it steps from one to the other halfway.
Cost stays monotone in beta: the knots rise in cost on every search environment and each
controller is monotone. ``summary`` says in one line what the knob does.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence

from tts_proxy.controllers.base import Controller, Limits
from tts_proxy.controllers.document import Calibration, ControllerDocument, FileSpec, spec_of
from tts_proxy.controllers.stitched import Piece, Stitched
from tts_proxy.discovery.objective import Knot, Source


def positions(knots: Sequence[Knot]) -> list[float]:
    """Each knot's beta in the stitched controller: spread over [0, 1] by log cost."""
    if len(knots) <= 1:
        return [0.0] * len(knots)
    low, high = math.log(knots[0].tokens), math.log(knots[-1].tokens)
    return [round((math.log(k.tokens) - low) / (high - low), 4) for k in knots]


def pieces(
    knots: Sequence[Knot], controllers: Mapping[Source, type[Controller]]
) -> tuple[Piece, ...]:
    """The stitched beta map through ``knots`` (cheapest first; ``controllers`` by source)."""
    if len(knots) == 1:
        only = knots[0]
        return (Piece(0.0, 1.0, controllers[only.source], only.beta, only.beta),)
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
        first, second = controllers[a.source], controllers[b.source]
        if a.source == b.source:
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
    files: Mapping[type[Controller], FileSpec] | None = None,
) -> ControllerDocument:
    """The shipped controller document: the pieces, each a built-in, a searched setting of
    one, or a controller file (by its entry in ``files``)."""
    cls = controller_class(name, knots, controllers)
    spec = spec_of(cls, files)
    return ControllerDocument(
        name=name, description=description, calibrated=calibrated, controller=spec
    )


def summary(
    knots: Sequence[Knot],
    controllers: Mapping[Source, type[Controller]],
    limits: Limits,
    label: Callable[[Source], str] = str,
) -> str:
    """What the knob runs, cheapest first: each run of one controller's knots once, with its
    settings at its first and last knot (``probe_exit k 2->8 (beta 0-0.29); sc width 1``)."""
    parts = []
    positions_ = positions(knots)
    runs = itertools.groupby(zip(knots, positions_, strict=True), key=lambda kp: kp[0].source)
    for source, group in runs:
        run = list(group)
        (first, start), (last, end) = run[0], run[-1]
        cls = controllers[source]
        before = cls(first.beta, limits).effective_settings()
        after = cls(last.beta, limits).effective_settings()
        settings = ", ".join(
            f"{k} {_fmt(v)}" if v == after[k] else f"{k} {_fmt(v)}->{_fmt(after[k])}"
            for k, v in before.items()
        )
        where = f"beta {start:g}" if start == end else f"beta {start:g}-{end:g}"
        parts.append(f"{label(source)} ({where}{'; ' + settings if settings else ''})")
    return "; ".join(parts)


def _fmt(v: float) -> str:
    return f"{v:g}" if isinstance(v, int) or v == int(v) else f"{v:.3g}"
