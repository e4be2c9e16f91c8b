"""The search space: every family, every point a controller whose settings spend more with
beta, shipped as a document of itself."""

from __future__ import annotations

import optuna
import pytest

from tts_proxy.controllers import builtin_controllers
from tts_proxy.controllers.base import Limits
from tts_proxy.controllers.document import ControllerDocument, build
from tts_proxy.discovery import families, trials


def test_the_space_covers_every_family_with_a_schedule() -> None:
    with_schedules = {n for n, c in builtin_controllers().items() if c.schedule}
    assert with_schedules >= set(families.FAMILIES)


def test_every_sampled_point_is_monotone_and_ships_as_a_document_of_itself() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(120):
        params = families.suggest(study.ask())
        seen.add(params["family"])
        cls = families.controller_class("point", params)
        grid = [cls(b / 10, Limits(max_branches=64)).values for b in range(11)]
        for name, setting in cls.schedule.items():
            values = [g[name] for g in grid]
            if setting.spend > 0:
                assert values == sorted(values), (name, values)
            elif setting.spend < 0:
                assert values == sorted(values, reverse=True), (name, values)
        doc = families.document("point", params, "A test point.")
        again = ControllerDocument.model_validate_json(doc.model_dump_json(by_alias=True))
        built = build(again.controller, "point")
        assert built.__mro__[1] is cls.__mro__[1] and built.ramps == families.ramps(params)
    assert seen == set(families.FAMILIES)


@pytest.mark.parametrize("family", families.FAMILIES)
def test_a_builtin_as_a_point_is_the_builtin(family: str) -> None:
    builtin = builtin_controllers()[family]
    point = families.controller_class("point", families.builtin_params(family))
    for b in range(11):
        limits = Limits(max_branches=64)
        assert point(b / 10, limits).values == builtin(b / 10, limits).values


def test_a_builtin_point_is_stored_as_the_sampler_would_store_it() -> None:
    study = optuna.create_study()
    params = families.builtin_params("cmc")
    study.enqueue_trial(params)
    trial = study.ask()
    assert families.suggest(trial) == params
    assert trials.params_key(trial.params) == trials.params_key(params)  # an anchor is known
