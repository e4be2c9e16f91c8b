"""Discovered by `tts-proxy discover` on 2026-11-25 02:15 UTC.

Search set: Qwen3-0.6B/aime24, Qwen3-1.7B/aime24. Held out: Qwen3-4B/aime24, Qwen3-8B/aime24.
Pseudo-labels: 0.

49 candidates over 8 rounds; agent: none (0 proposals). Stitched: the search set's frontier of
22 operating points of built-ins and candidates (probe_exit, 23, 45, sc, cmc; cheapest first);
the best single candidate was 18.

Held-out curve against every built-in: reports/discovered.json.
"""

from __future__ import annotations

from typing import ClassVar

from tts_proxy.controllers.base import Ramp
from tts_proxy.controllers.cmc import ConfidenceMomentum
from tts_proxy.controllers.probe_exit import ProbeExit
from tts_proxy.controllers.sc import SelfConsistency
from tts_proxy.controllers.stitched import Piece, Stitched


class Candidate23(ConfidenceMomentum):
    name = ""  # a part of the stitched controller only
    ramps: ClassVar[dict[str, Ramp]] = {
        'initial_width': Ramp(1.0312, 5.3417, geometric=True, onset=0.2865),
        'max_width': Ramp(1.6194, 31.9779, geometric=True, onset=0.2865),
        'widen_by': Ramp(1.6259, 3.9617, geometric=True, onset=0.2865),
        'tau': Ramp(0.4714, 0.7753, onset=0.2865),
        'min_pool': Ramp(1.3339, 7.0811, geometric=True, onset=0.2865),
        'alpha': Ramp(0.5179, 0.5179),
        'stall': Ramp(0.0234, 0.0234),
        'abandon_patience': Ramp(10.7509, 47.1734, geometric=True, onset=0.2865),
        'lag': Ramp(2.2272, 2.2272),
        'stable_probes': Ramp(2.268, 27.1722, geometric=True, until=0.4035),
    }


class Candidate45(ConfidenceMomentum):
    name = ""  # a part of the stitched controller only
    ramps: ClassVar[dict[str, Ramp]] = {
        'initial_width': Ramp(1.0, 1.0, geometric=True),
        'max_width': Ramp(1.0, 1.0, geometric=True),
        'widen_by': Ramp(1.0, 1.0, geometric=True),
        'tau': Ramp(0.5, 0.5),
        'min_pool': Ramp(1.0, 1.0, geometric=True),
        'alpha': Ramp(0.5, 0.5),
        'stall': Ramp(0.02, 0.02),
        'abandon_patience': Ramp(8.0, 8.0, geometric=True),
        'lag': Ramp(1.0, 1.0),
        'stable_probes': Ramp(2.0, 32.0, geometric=True),
    }


class Discovered(Stitched):
    name = 'discovered'
    pieces: ClassVar[tuple[Piece, ...]] = (
        Piece(0.0, 0.1173, ProbeExit, 0.0, 0.1),
        Piece(0.1173, 0.1812, ProbeExit, 0.1, 0.25),
        Piece(0.1812, 0.2334, ProbeExit, 0.25, 0.5),
        Piece(0.2334, 0.2602, ProbeExit, 0.5, 0.6),
        Piece(0.2602, 0.2791, ProbeExit, 0.6, 0.8),
        Piece(0.2791, 0.2934, ProbeExit, 0.8, 1.0),
        Piece(0.2934, 0.3075, ProbeExit, 1.0, 1.0),
        Piece(0.3075, 0.3345, Candidate23, 0.25, 0.25),
        Piece(0.3345, 0.359, Candidate45, 0.75, 0.75),
        Piece(0.359, 0.4971, SelfConsistency, 0.0, 0.0),
        Piece(0.4971, 0.6236, ConfidenceMomentum, 0.0, 0.0),
        Piece(0.6236, 0.6649, ConfidenceMomentum, 0.0, 0.1),
        Piece(0.6649, 0.6839, ConfidenceMomentum, 0.1, 0.2),
        Piece(0.6839, 0.7141, ConfidenceMomentum, 0.2, 0.25),
        Piece(0.7141, 0.7267, ConfidenceMomentum, 0.25, 0.3),
        Piece(0.7267, 0.7603, ConfidenceMomentum, 0.3, 0.4),
        Piece(0.7603, 0.8017, ConfidenceMomentum, 0.4, 0.5),
        Piece(0.8017, 0.8391, ConfidenceMomentum, 0.5, 0.6),
        Piece(0.8391, 0.8819, ConfidenceMomentum, 0.6, 0.7),
        Piece(0.8819, 0.9017, ConfidenceMomentum, 0.7, 0.75),
        Piece(0.9017, 0.9612, ConfidenceMomentum, 0.75, 0.9),
        Piece(0.9612, 1.0, ConfidenceMomentum, 0.9, 1.0),
    )
