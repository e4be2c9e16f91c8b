"""The command line's argument types: each takes what its flag can mean and refuses the rest."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest

from tts_proxy import flags


@pytest.mark.parametrize(
    ("kind", "taken", "refused"),
    [
        (flags.count, {"1": 1, "64": 64}, ["0", "-3", "2.5", "many", ""]),
        (flags.positive, {"0.5": 0.5, "1e15": 1e15}, ["0", "-1", "inf", "nan", "x"]),
        (flags.share, {"0": 0.0, "0.3": 0.3, "1": 1.0}, ["-0.1", "1.5", "nan", "half"]),
        (flags.beta, {"0": 0.0, "1": 1.0}, ["2", "-1", "nan"]),
    ],
)
def test_each_flag_type_takes_its_values_and_refuses_the_rest(
    kind: Callable[[str], float], taken: dict[str, float], refused: list[str]
) -> None:
    assert {text: kind(text) for text in taken} == taken
    for text in refused:
        with pytest.raises(argparse.ArgumentTypeError):
            kind(text)
