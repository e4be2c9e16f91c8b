"""Estimated compute: FLOPs ~ 2 x parameters x tokens (the forward pass of a dense decoder).

Parameter counts come from a setting (``model_parameters``: served name -> count), or, for a
model the proxy has on disk (the embedded vLLM's folder), from its safetensors headers (read
once at start-up; only the headers: no weights are loaded).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

from safetensors import safe_open


def flops(parameters: float, tokens: float) -> float:
    """Estimated FLOPs of processing ``tokens`` tokens with a ``parameters``-parameter model."""
    return 2.0 * parameters * tokens


def count_parameters(model_dir: Path) -> int | None:
    """Parameters in a model folder's safetensors files (None: there are none)."""
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        return None
    total = 0
    for path in files:
        with safe_open(str(path), framework="numpy") as f:
            total += sum(math.prod(f.get_slice(name).get_shape()) for name in f.keys())  # noqa: SIM118
    return total


class ModelSizes:
    """Parameter counts by served model name; ``flops`` is None for a model of unknown size."""

    def __init__(self, parameters: Mapping[str, float]) -> None:
        self.parameters = dict(parameters)

    def flops(self, model: str, tokens: float) -> float | None:
        size = self.parameters.get(model)
        return None if size is None else flops(size, tokens)
