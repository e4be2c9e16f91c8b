"""Stitching: one beta knob along the best operating points of several candidates.

Each parameter-search candidate is a curve: at each beta, a cost and an accuracy on the search
set. No one candidate is best at every budget -- one probed branch wins the cheap end, a wide,
patient search the dear one -- so the shipped controller follows the upper frontier of all of
them: the operating points (knots) that no cheaper point matches, in the order of their cost.
Beta is spread over the knots by log cost; between two knots of one candidate it runs that
candidate between their betas, between knots of two candidates it steps from one to the other
halfway. Cost stays monotone in beta: the knots rise in cost and each candidate is monotone.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tts_proxy.controllers.base import Ramp
from tts_proxy.controllers.cmc import ConfidenceMomentum, Segment
from tts_proxy.discovery.families import ramps_source


@dataclass(frozen=True, slots=True)
class Knot:
    """An operating point: a candidate (by id) at one of its betas, on the search set
    (``costs``: tokens per question on each search environment; ``tokens``: their mean)."""

    candidate: int
    beta: float
    tokens: float
    accuracy: float
    costs: tuple[float, ...] = ()


def frontier(knots: Iterable[Knot], min_rise: float = 0.1, min_gain: float = 0.005) -> list[Knot]:
    """The knots no cheaper knot matches, cheapest first. Each is at least ``min_gain`` more
    accurate than the one before (a smaller gain is noise: following it would hop between
    candidates for nothing) and costs at least ``min_rise`` (relative) more on every search
    environment, not only on their mean -- candidates of different shapes scale differently
    from one model to the next, and the stitched cost must rise with beta on each."""
    kept: list[Knot] = []
    for knot in sorted(knots, key=lambda k: (k.tokens, -k.accuracy)):
        if kept:
            last = kept[-1]
            dearer = all(
                new >= old * (1 + min_rise)
                for new, old in zip(
                    (knot.tokens, *knot.costs), (last.tokens, *last.costs), strict=True
                )
            )
            if not dearer or knot.accuracy < last.accuracy + min_gain:
                continue
        kept.append(knot)
    return kept


def positions(knots: Sequence[Knot]) -> list[float]:
    """Each knot's beta in the stitched controller: spread over [0, 1] by log cost."""
    if len(knots) == 1:
        return [0.0]
    low, high = math.log(knots[0].tokens), math.log(knots[-1].tokens)
    return [round((math.log(k.tokens) - low) / (high - low), 4) for k in knots]


def segments(knots: Sequence[Knot], ramps: Mapping[int, dict[str, Ramp]]) -> tuple[Segment, ...]:
    """The stitched beta map through ``knots`` (cheapest first; ``ramps`` by candidate id)."""
    if len(knots) == 1:
        only = knots[0]
        return (Segment(0.0, 1.0, ramps[only.candidate], only.beta, only.beta),)
    out: list[Segment] = []
    pairs = zip(itertools.pairwise(knots), itertools.pairwise(positions(knots)), strict=True)
    for (a, b), (start, end) in pairs:
        if a.candidate == b.candidate:
            out.append(Segment(start, end, ramps[a.candidate], a.beta, b.beta))
        else:
            middle = round((start + end) / 2, 4)
            out.append(Segment(start, middle, ramps[a.candidate], a.beta, a.beta))
            out.append(Segment(middle, end, ramps[b.candidate], b.beta, b.beta))
    return tuple(out)


def controller_class(
    name: str, knots: Sequence[Knot], ramps: Mapping[int, dict[str, Ramp]]
) -> type[ConfidenceMomentum]:
    """A stitched CMC subclass, for in-process evaluation."""
    return type(name, (ConfidenceMomentum,), {"name": name, "segments": segments(knots, ramps)})


def render(
    name: str, knots: Sequence[Knot], ramps: Mapping[int, dict[str, Ramp]], header: str
) -> str:
    """The controller file: each candidate's ramps once, then the segments that use them."""
    used = sorted({k.candidate for k in knots})
    lines = [f'"""{header.strip()}\n"""', "", "from __future__ import annotations", ""]
    lines += ["from typing import ClassVar", ""]
    lines += ["from tts_proxy.controllers.base import Ramp"]
    lines += ["from tts_proxy.controllers.cmc import ConfidenceMomentum, Segment", ""]
    for cid in used:
        lines += ["", f"CANDIDATE_{cid}: dict[str, Ramp] = {{"]
        lines += ramps_source(ramps[cid], " " * 4)
        lines += ["}"]
    lines += ["", "", "class Discovered(ConfidenceMomentum):"]
    lines += [f"    name = {name!r}", "    segments: ClassVar[tuple[Segment, ...]] = ("]
    for s in segments(knots, ramps):
        cid = next(c for c in used if ramps[c] is s.ramps)
        lines.append(
            f"        Segment({s.start!r}, {s.end!r}, CANDIDATE_{cid}, {s.lo!r}, {s.hi!r}),"
        )
    lines += ["    )", ""]
    return "\n".join(lines)
