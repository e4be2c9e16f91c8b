"""The search space: every point is a controller whose settings spend more with beta."""

from __future__ import annotations

import optuna

from tts_proxy.controllers.base import Limits
from tts_proxy.controllers.cmc import SPEND, CMCSettings
from tts_proxy.discovery import families
from tts_proxy.discovery.gate import static_problems


def test_every_sampled_point_is_monotone_and_renders_to_a_clean_file() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        params = families.suggest(study.ask())
        ramps = families.ramps(params)
        grid = [CMCSettings.from_ramps(ramps, b / 10, Limits(max_branches=64)) for b in range(11)]
        for name, direction in SPEND.items():
            values = [getattr(s, name) for s in grid]
            if direction > 0:
                assert values == sorted(values), (name, values)
            elif direction < 0:
                assert values == sorted(values, reverse=True), (name, values)
        source = families.render("point", params, "A test point.")
        assert static_problems(source) == []
        namespace: dict[str, object] = {}
        exec(compile(source, "point.py", "exec"), namespace)  # our own template, not agent code
        cls = namespace["Discovered"]
        assert cls.ramps == ramps  # type: ignore[attr-defined]
