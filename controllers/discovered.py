"""Discovered by `tts-proxy discover` on 2026-11-24 22:54 UTC.

Search set: Qwen3-0.6B/aime24, Qwen3-1.7B/aime24. Held out: Qwen3-4B/aime24, Qwen3-8B/aime24. Pseudo-labels: 0.
49 candidates over 13 rounds; agent: none (0 proposals). Stitched: the search set's frontier of 19 operating points of built-ins and candidates (probe_exit, 45, sc, parallel_probe, cmc, esc, 43; cheapest first); the best single candidate was 18.
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


class Candidate43(ConfidenceMomentum):
    name = ""  # a part of the stitched controller only
    ramps: ClassVar[dict[str, Ramp]] = {
        'initial_width': Ramp(1.0663, 6.7286, geometric=True, onset=0.1195),
        'max_width': Ramp(1.1193, 60.9706, geometric=True, onset=0.1195),
        'widen_by': Ramp(1.3225, 6.1184, geometric=True, onset=0.1195),
        'tau': Ramp(0.5389, 0.7943, onset=0.1195),
        'min_pool': Ramp(1.0189, 8.7246, geometric=True, onset=0.1195),
        'alpha': Ramp(0.6121, 0.6121),
        'stall': Ramp(0.0059, 0.0059),
        'abandon_patience': Ramp(6.3577, 38.6225, geometric=True, onset=0.1195),
        'lag': Ramp(2.2735, 2.2735),
        'stable_probes': Ramp(2.5943, 28.6081, geometric=True, until=0.4258),
    }


class Discovered(Stitched):
    name = 'discovered'
    pieces: ClassVar[tuple[Piece, ...]] = (
        Piece(0.0, 0.1195, ProbeExit, 0.0, 0.1),
        Piece(0.1195, 0.1943, ProbeExit, 0.1, 0.25),
        Piece(0.1943, 0.2544, ProbeExit, 0.25, 0.5),
        Piece(0.2544, 0.2848, ProbeExit, 0.5, 0.6),
        Piece(0.2848, 0.3051, ProbeExit, 0.6, 0.8),
        Piece(0.3051, 0.3223, ProbeExit, 0.8, 1.0),
        Piece(0.3223, 0.3429, ProbeExit, 1.0, 1.0),
        Piece(0.3429, 0.3861, Candidate45, 0.7, 0.7),
        Piece(0.3861, 0.5252, SelfConsistency, 0.0, 0.0),
        Piece(0.5252, 0.6586, ParallelProbe, 0.6, 0.6),
        Piece(0.6586, 0.6756, ConfidenceMomentum, 0.0, 0.0),
        Piece(0.6756, 0.7198, ConfidenceMomentum, 0.0, 0.1),
        Piece(0.7198, 0.7414, ConfidenceMomentum, 0.1, 0.2),
        Piece(0.7414, 0.7762, ConfidenceMomentum, 0.2, 0.25),
        Piece(0.7762, 0.7909, ConfidenceMomentum, 0.25, 0.3),
        Piece(0.7909, 0.87, ConfidenceMomentum, 0.3, 0.5),
        Piece(0.87, 0.9095, ConfidenceMomentum, 0.5, 0.6),
        Piece(0.9095, 0.9245, ConfidenceMomentum, 0.6, 0.6),
        Piece(0.9245, 0.9698, EarlyStoppingSC, 0.25, 0.25),
        Piece(0.9698, 1.0, Candidate43, 0.9, 0.9),
    )
