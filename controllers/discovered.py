"""Discovered by `tts-proxy discover` on 2026-11-24 20:16 UTC.

Search set: Qwen3-0.6B/aime24, Qwen3-1.7B/aime24. Held out: Qwen3-4B/aime24, Qwen3-8B/aime24. Pseudo-labels: 0.
49 candidates over 13 rounds; agent: none (0 proposals). Stitched: the search set's frontier of 19 operating points of candidates 23, 18, 48, 33, 45, 0, 1, 43 (cheapest first); the best single candidate was 18.
Held-out curve against every built-in: reports/discovered.json.
"""

from __future__ import annotations

from typing import ClassVar

from tts_proxy.controllers.base import Ramp
from tts_proxy.controllers.cmc import ConfidenceMomentum, Segment


CANDIDATE_0: dict[str, Ramp] = {
    'initial_width': Ramp(4.0, 10.0, geometric=True),
    'max_width': Ramp(8.0, 48.0, geometric=True),
    'widen_by': Ramp(2.0, 6.0, geometric=True),
    'tau': Ramp(0.6, 0.85),
    'min_pool': Ramp(3.0, 10.0, geometric=True),
    'alpha': Ramp(0.5, 0.5),
    'stall': Ramp(0.02, 0.02),
    'abandon_patience': Ramp(12.0, 48.0, geometric=True),
    'lag': Ramp(2.0, 2.0),
    'stable_probes': Ramp(0, 0),
}

CANDIDATE_1: dict[str, Ramp] = {
    'initial_width': Ramp(1.0, 7.6, geometric=True, onset=0.2),
    'max_width': Ramp(1.0, 64.0, geometric=True, onset=0.2),
    'widen_by': Ramp(1.0, 4.5, geometric=True, onset=0.2),
    'tau': Ramp(0.5, 0.815, onset=0.2),
    'min_pool': Ramp(1.0, 7.6, geometric=True, onset=0.2),
    'alpha': Ramp(0.5, 0.5),
    'stall': Ramp(0.02, 0.02),
    'abandon_patience': Ramp(8.0, 36.0, geometric=True, onset=0.2),
    'lag': Ramp(2.0, 2.0),
    'stable_probes': Ramp(2.0, 32.0, geometric=True, until=0.25),
}

CANDIDATE_18: dict[str, Ramp] = {
    'initial_width': Ramp(1.2315, 7.2124, geometric=True, onset=0.2039),
    'max_width': Ramp(1.5645, 46.182, geometric=True, onset=0.2039),
    'widen_by': Ramp(1.186, 6.2687, geometric=True, onset=0.2039),
    'tau': Ramp(0.524, 0.8009, onset=0.2039),
    'min_pool': Ramp(1.2979, 4.7323, geometric=True, onset=0.2039),
    'alpha': Ramp(0.7274, 0.7274),
    'stall': Ramp(0.0086, 0.0086),
    'abandon_patience': Ramp(3.7191, 33.6814, geometric=True, onset=0.2039),
    'lag': Ramp(2.4056, 2.4056),
    'stable_probes': Ramp(2.7838, 25.7528, geometric=True, until=0.2995),
}

CANDIDATE_23: dict[str, Ramp] = {
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

CANDIDATE_33: dict[str, Ramp] = {
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

CANDIDATE_43: dict[str, Ramp] = {
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

CANDIDATE_45: dict[str, Ramp] = {
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

CANDIDATE_48: dict[str, Ramp] = {
    'initial_width': Ramp(1.0936, 10.2487, geometric=True, onset=0.0944),
    'max_width': Ramp(2.4049, 61.282, geometric=True, onset=0.0944),
    'widen_by': Ramp(1.0767, 5.1385, geometric=True, onset=0.0944),
    'tau': Ramp(0.5452, 0.8575, onset=0.0944),
    'min_pool': Ramp(1.3117, 8.736, geometric=True, onset=0.0944),
    'alpha': Ramp(0.3504, 0.3504),
    'stall': Ramp(0.0255, 0.0255),
    'abandon_patience': Ramp(8.6119, 50.8656, geometric=True, onset=0.0944),
    'lag': Ramp(1.6858, 1.6858),
    'stable_probes': Ramp(2.3834, 28.2392, geometric=True, until=0.3593),
}


class Discovered(ConfidenceMomentum):
    name = 'discovered'
    segments: ClassVar[tuple[Segment, ...]] = (
        Segment(0.0, 0.0597, CANDIDATE_23, 0.0, 0.0),
        Segment(0.0597, 0.1195, CANDIDATE_18, 0.0, 0.0),
        Segment(0.1195, 0.1569, CANDIDATE_18, 0.0, 0.0),
        Segment(0.1569, 0.1943, CANDIDATE_23, 0.1, 0.1),
        Segment(0.1943, 0.2243, CANDIDATE_23, 0.1, 0.1),
        Segment(0.2243, 0.2544, CANDIDATE_48, 0.1, 0.1),
        Segment(0.2544, 0.2696, CANDIDATE_48, 0.1, 0.1),
        Segment(0.2696, 0.2848, CANDIDATE_18, 0.1, 0.1),
        Segment(0.2848, 0.3129, CANDIDATE_18, 0.1, 0.1),
        Segment(0.3129, 0.341, CANDIDATE_33, 0.25, 0.25),
        Segment(0.341, 0.3523, CANDIDATE_33, 0.25, 0.25),
        Segment(0.3523, 0.3636, CANDIDATE_45, 0.7, 0.7),
        Segment(0.3636, 0.3945, CANDIDATE_45, 0.7, 0.9),
        Segment(0.3945, 0.494, CANDIDATE_45, 0.9, 0.9),
        Segment(0.494, 0.5934, CANDIDATE_23, 0.5, 0.5),
        Segment(0.5934, 0.6181, CANDIDATE_23, 0.5, 0.5),
        Segment(0.6181, 0.6428, CANDIDATE_18, 0.6, 0.6),
        Segment(0.6428, 0.6563, CANDIDATE_18, 0.6, 0.6),
        Segment(0.6563, 0.6699, CANDIDATE_23, 0.6, 0.6),
        Segment(0.6699, 0.6891, CANDIDATE_23, 0.6, 0.6),
        Segment(0.6891, 0.7083, CANDIDATE_0, 0.1, 0.1),
        Segment(0.7083, 0.74, CANDIDATE_0, 0.1, 0.2),
        Segment(0.74, 0.7589, CANDIDATE_0, 0.2, 0.2),
        Segment(0.7589, 0.7777, CANDIDATE_1, 0.7, 0.7),
        Segment(0.7777, 0.7957, CANDIDATE_1, 0.7, 0.7),
        Segment(0.7957, 0.8138, CANDIDATE_48, 0.6, 0.6),
        Segment(0.8138, 0.8354, CANDIDATE_48, 0.6, 0.6),
        Segment(0.8354, 0.8569, CANDIDATE_43, 0.75, 0.75),
        Segment(0.8569, 0.881, CANDIDATE_43, 0.75, 0.75),
        Segment(0.881, 0.9052, CANDIDATE_0, 0.6, 0.6),
        Segment(0.9052, 0.9359, CANDIDATE_0, 0.6, 0.6),
        Segment(0.9359, 0.9666, CANDIDATE_48, 0.8, 0.8),
        Segment(0.9666, 0.9833, CANDIDATE_48, 0.8, 0.8),
        Segment(0.9833, 1.0, CANDIDATE_43, 0.9, 0.9),
    )
