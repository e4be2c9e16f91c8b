"""Discovered by `tts-proxy discover` on 2026-11-24 23:21 UTC.

Search set: Qwen3-0.6B/aime24, Qwen3-1.7B/aime24. Held out: Qwen3-4B/aime24, Qwen3-8B/aime24. Pseudo-labels: 0.
49 candidates over 13 rounds; agent: none (0 proposals). Stitched: the search set's frontier of 19 operating points of built-ins and candidates (probe_exit, 33, sc, parallel_probe, cmc, esc; cheapest first); the best single candidate was 18.
Held-out curve against every built-in: reports/discovered.json.
"""

from __future__ import annotations

from typing import ClassVar

from tts_proxy.controllers.base import Ramp
from tts_proxy.controllers.cmc import ConfidenceMomentum
from tts_proxy.controllers.esc import EarlyStoppingSC
from tts_proxy.controllers.parallel_probe import ParallelProbe
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
        Piece(0.0, 0.1154, ProbeExit, 0.0, 0.1),
        Piece(0.1154, 0.1877, ProbeExit, 0.1, 0.25),
        Piece(0.1877, 0.2458, ProbeExit, 0.25, 0.5),
        Piece(0.2458, 0.2751, ProbeExit, 0.5, 0.6),
        Piece(0.2751, 0.2947, ProbeExit, 0.6, 0.8),
        Piece(0.2947, 0.3114, ProbeExit, 0.8, 1.0),
        Piece(0.3114, 0.3267, ProbeExit, 1.0, 1.0),
        Piece(0.3267, 0.3684, Candidate33, 0.3, 0.3),
        Piece(0.3684, 0.5072, SelfConsistency, 0.0, 0.0),
        Piece(0.5072, 0.6362, ParallelProbe, 0.6, 0.6),
        Piece(0.6362, 0.6526, ConfidenceMomentum, 0.0, 0.0),
        Piece(0.6526, 0.6953, ConfidenceMomentum, 0.0, 0.1),
        Piece(0.6953, 0.7162, ConfidenceMomentum, 0.1, 0.2),
        Piece(0.7162, 0.7498, ConfidenceMomentum, 0.2, 0.25),
        Piece(0.7498, 0.764, ConfidenceMomentum, 0.25, 0.3),
        Piece(0.764, 0.8404, ConfidenceMomentum, 0.3, 0.5),
        Piece(0.8404, 0.8786, ConfidenceMomentum, 0.5, 0.6),
        Piece(0.8786, 0.8931, ConfidenceMomentum, 0.6, 0.6),
        Piece(0.8931, 0.9076, EarlyStoppingSC, 0.25, 0.25),
        Piece(0.9076, 1.0, EarlyStoppingSC, 0.25, 0.5),
    )
