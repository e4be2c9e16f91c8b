"""The search space: every point is a controller whose settings spend more with beta."""

from __future__ import annotations

import optuna

from tts_proxy.controllers.base import Limits
from tts_proxy.controllers.cmc import SPEND, CMCSettings, ConfidenceMomentum
from tts_proxy.controllers.document import ControllerDocument, build
from tts_proxy.discovery import families


def test_every_sampled_point_is_monotone_and_ships_as_a_document_of_itself() -> None:
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
        doc = families.document("point", params, "A test point.")
        again = ControllerDocument.model_validate_json(doc.model_dump_json(by_alias=True))
        cls = build(again.controller, "point")
        assert issubclass(cls, ConfidenceMomentum) and cls.ramps == ramps
