"""A stitched controller: one beta knob through the operating points of several controllers.

Discovery writes these (``tts_proxy.discovery.stitch``). ``pieces`` split beta's range into
consecutive pieces, cheapest first; each runs one controller over a beta range of its own --
a built-in where the search found nothing clearly better, a searched setting where it did.
Each piece's controller spends more with its beta and the pieces rise in cost, so the one
knob does too.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from tts_proxy.actions import Action
from tts_proxy.controllers.base import Controller, Limits
from tts_proxy.state import View


@dataclass(frozen=True, slots=True)
class Piece:
    """Beta in ``[start, end]`` runs ``controller`` at a beta moving from ``lo`` to ``hi``."""

    start: float
    end: float
    controller: type[Controller]
    lo: float
    hi: float

    def local(self, beta: float) -> float:
        span = self.end - self.start
        t = 0.0 if span <= 0 else min(1.0, max(0.0, (beta - self.start) / span))
        return self.lo + t * (self.hi - self.lo)


class Stitched(Controller):
    """Runs the piece's controller that ``beta`` falls in, at its own beta, and nothing else:
    same decisions, same randomness, so each operating point is reproduced exactly."""

    pieces: ClassVar[tuple[Piece, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        pieces = cls.pieces
        cls.whole_branches = bool(pieces) and all(p.controller.whole_branches for p in pieces)

    @classmethod
    def piece_at(cls, beta: float) -> tuple[type[Controller], float]:
        """The controller that runs at ``beta``, and the beta it runs at."""
        if not cls.pieces:
            raise TypeError(f"{cls.__name__} has no pieces")
        for piece in cls.pieces:
            if beta <= piece.end:
                return piece.controller, piece.local(beta)
        last = cls.pieces[-1]
        return last.controller, last.hi

    def __init__(self, beta: float, limits: Limits, rng: random.Random | None = None) -> None:
        super().__init__(beta, limits, rng)
        controller, local = self.piece_at(beta)
        self.inner = controller(local, limits, self.rng)

    @classmethod
    def replay_key(cls, beta: float, limits: Limits) -> Hashable | None:
        controller, local = cls.piece_at(beta)
        return controller.replay_key(local, limits)

    @property
    def calibration_notes(self) -> tuple[str, ...]:
        return self.inner.calibration_notes

    def effective_settings(self) -> dict[str, float]:
        return self.inner.effective_settings()

    def decide(self, view: View) -> Sequence[Action]:
        return self.inner.decide(view)

    def aggregate(self, view: View) -> str | None:
        return self.inner.aggregate(view)

    # The engine awaits these: a piece that decides in the sandbox does so only here.
    async def adecide(self, view: View) -> Sequence[Action]:
        return await self.inner.adecide(view)

    async def aaggregate(self, view: View) -> str | None:
        return await self.inner.aaggregate(view)

    async def finish(self) -> None:
        await self.inner.finish()
