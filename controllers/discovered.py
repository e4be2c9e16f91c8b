"""Discovered by `tts-proxy discover` on 2026-11-25 00:00 UTC.

Search set: Qwen3-0.6B/aime24, Qwen3-1.7B/aime24. Held out: Qwen3-4B/aime24, Qwen3-8B/aime24.
Pseudo-labels: 0.

49 candidates over 13 rounds; agent: none (0 proposals). Stitched: the search set's frontier of
23 operating points of built-ins and candidates (probe_exit, 33, sc, cmc, esc; cheapest first);
the best single candidate was 18.

Held-out curve against every built-in: reports/discovered.json.
"""

from __future__ import annotations

from typing import ClassVar

from tts_proxy.controllers.base import Ramp
from tts_proxy.controllers.cmc import ConfidenceMomentum
from tts_proxy.controllers.esc import EarlyStoppingSC
from tts_proxy.controllers.probe_exit import ProbeExit
from tts_proxy.controllers.sc import SelfConsistency
from tts_proxy.controllers.stitched import Piece, Stitched


class Candidate33(ConfidenceMomentum):
    name = ""  # a part of the stitched controller only
    ramps: ClassVar[dict[str, Ramp]] = {
        'initial_width': Ramp(1.1133, 6.4543, geometric=True, onset=0.2288),
        'max_width': Ramp(3.8343, 60.2241, geometric=True, onset=0.2288),
        'widen_by': Ramp(1.0168, 4.0169, geometric=True, onset=0.2288),
        'tau': Ramp(0.5013, 0.7117, onset=0.2288),
        'min_pool': Ramp(1.25, 7.7727, geometric=True, onset=0.2288),
        'alpha': Ramp(0.5045, 0.5045),
        'stall': Ramp(0.0074, 0.0074),
        'abandon_patience': Ramp(3.2185, 32.3918, geometric=True, onset=0.2288),
        'lag': Ramp(1.8357, 1.8357),
        'stable_probes': Ramp(2.5825, 30.8273, geometric=True, until=0.4718),
    }


class Discovered(Stitched):
    name = 'discovered'
    pieces: ClassVar[tuple[Piece, ...]] = (
        Piece(0.0, 0.106, ProbeExit, 0.0, 0.1),
        Piece(0.106, 0.1724, ProbeExit, 0.1, 0.25),
        Piece(0.1724, 0.2257, ProbeExit, 0.25, 0.5),
        Piece(0.2257, 0.2527, ProbeExit, 0.5, 0.6),
        Piece(0.2527, 0.2706, ProbeExit, 0.6, 0.8),
        Piece(0.2706, 0.286, ProbeExit, 0.8, 1.0),
        Piece(0.286, 0.3, ProbeExit, 1.0, 1.0),
        Piece(0.3, 0.3383, Candidate33, 0.3, 0.3),
        Piece(0.3383, 0.4809, SelfConsistency, 0.0, 0.0),
        Piece(0.4809, 0.5993, ConfidenceMomentum, 0.0, 0.0),
        Piece(0.5993, 0.6385, ConfidenceMomentum, 0.0, 0.1),
        Piece(0.6385, 0.6577, ConfidenceMomentum, 0.1, 0.2),
        Piece(0.6577, 0.6886, ConfidenceMomentum, 0.2, 0.25),
        Piece(0.6886, 0.7016, ConfidenceMomentum, 0.25, 0.3),
        Piece(0.7016, 0.7718, ConfidenceMomentum, 0.3, 0.5),
        Piece(0.7718, 0.8068, ConfidenceMomentum, 0.5, 0.6),
        Piece(0.8068, 0.8201, ConfidenceMomentum, 0.6, 0.6),
        Piece(0.8201, 0.8335, EarlyStoppingSC, 0.25, 0.25),
        Piece(0.8335, 0.9183, EarlyStoppingSC, 0.25, 0.5),
        Piece(0.9183, 0.938, EarlyStoppingSC, 0.5, 0.6),
        Piece(0.938, 0.956, EarlyStoppingSC, 0.6, 0.7),
        Piece(0.956, 0.9724, EarlyStoppingSC, 0.7, 0.8),
        Piece(0.9724, 0.9872, EarlyStoppingSC, 0.8, 0.9),
        Piece(0.9872, 1.0, EarlyStoppingSC, 0.9, 1.0),
    )
