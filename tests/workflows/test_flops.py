"""FLOPs estimates: parameter counts read from a model folder's safetensors headers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from tts_proxy.workflows.flops import ModelSizes, count_parameters, flops


def test_parameters_are_counted_from_every_safetensors_file(tmp_path: Path) -> None:
    save_file({"a": np.zeros((3, 4), np.float32), "b": np.zeros(5, np.float16)},
              str(tmp_path / "model-1.safetensors"))  # fmt: skip
    save_file({"c": np.zeros((2, 2, 2), np.float32)}, str(tmp_path / "model-2.safetensors"))
    assert count_parameters(tmp_path) == 12 + 5 + 8


def test_a_folder_without_weights_has_no_count(tmp_path: Path) -> None:
    assert count_parameters(tmp_path) is None


def test_flops_are_two_per_parameter_per_token() -> None:
    assert flops(1e9, 100) == 2e11
    sizes = ModelSizes({"small": 1e6})
    assert sizes.flops("small", 10) == 2e7
    assert sizes.flops("unknown", 10) is None
