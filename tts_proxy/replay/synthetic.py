"""Small replay questions built in code: for tests, and for the controller gate's smoke run
when no recorded data is at hand (the proxy gates files it hot-loads without any)."""

from __future__ import annotations

import random

from tts_proxy.replay.environment import RecordedBranch, ReplayQuestion


def synthetic_question(seed: int, *, branches: int = 32, chunk: int = 100) -> ReplayQuestion:
    """Branches that mostly converge on "42", with noisy early probes and a few wrong ones."""
    rng = random.Random(seed)
    recorded = []
    for _ in range(branches):
        length = rng.randint(2, 12) * chunk + rng.randint(1, chunk - 1)
        steps = length // chunk
        final = "42" if rng.random() < 0.6 else str(rng.choice([7, 13, 41]))
        probes = tuple(
            final if rng.random() < k / max(1, steps) else rng.choice([None, "1", "2"])
            for k in range(1, steps + 1)
        )
        recorded.append(RecordedBranch((*probes[:-1], final), length, final))
    return ReplayQuestion(f"synthetic#{seed}", "q", "42", tuple(recorded), chunk)
