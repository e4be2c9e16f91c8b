"""Small environments for the planner's tests."""

from __future__ import annotations

from tts_proxy.workflows.environment import WorkflowEnvironment
from tts_proxy.workflows.grids import synthetic

SMALL_MODELS = {"small-1b": 1e9, "large-8b": 8e9}


def small_grid(seed: int = 0, stages: tuple[str, ...] = ("plan", "act")) -> WorkflowEnvironment:
    """Two stages, two models, samples 1-8: 64 plans."""
    return synthetic(seed, stages=stages, models=SMALL_MODELS, samples=(1, 2, 4, 8))
