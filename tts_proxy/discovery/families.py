"""The parameter-search space: every built-in family's schedule (``Controller.schedule``), and
how a point in it becomes a controller class (to evaluate in process) or a controller document
(to ship).

A point names a family and, for each setting of its schedule, a ramp that spends more with
beta by construction: where a larger value spends more, ``hi = lo + spread * (upper - lo)``
with ``spread`` in [0, 1] (the mirror image where a smaller one does); a fixed setting has
``lo`` only, an optional one may be off. Knees: settings change only from ``onset``, optional
ones only until ``until`` -- so one branch can grow its probe patience first, then widen.
``geometric`` makes the ramps of settings searched on a log scale geometric in beta too. Every
parameter is a fixed-range float or a choice, so optuna's TPE can model them and a history
file can re-seed a study.
"""

from __future__ import annotations

from typing import Any, get_args

import optuna

from tts_proxy.controllers.base import Controller, Ramp, Setting
from tts_proxy.controllers.document import ControllerDocument, Family, spec_of
from tts_proxy.controllers.learned import LinearRule

# Every built-in with a schedule. For ``learned`` the search tunes the ramps of the built-in's
# untrained rule; the fitted rule is proposed on its own (``proposers.LearnedRule``).
FAMILIES: tuple[str, ...] = get_args(Family)
Distributions = dict[str, optuna.distributions.BaseDistribution]


def family_class(family: str) -> type[Controller]:
    from tts_proxy.controllers import builtin_controllers

    return builtin_controllers()[family]


def schedule(family: str) -> dict[str, Setting]:
    return family_class(family).schedule


def distributions(family: str, families: tuple[str, ...] = FAMILIES) -> Distributions:
    """The distribution of every parameter of a point of ``family`` (fixed, so past trials
    can be added back to a study)."""
    out: Distributions = {"family": optuna.distributions.CategoricalDistribution(families)}
    for name, s in schedule(family).items():
        out[f"{family}.{name}.lo"] = optuna.distributions.FloatDistribution(
            s.lower, s.upper, log=s.geometric and s.lower > 0
        )
        if s.spend != 0:
            out[f"{family}.{name}.spread"] = optuna.distributions.FloatDistribution(0.0, 1.0)
        if s.optional:
            out[f"{family}.{name}.on"] = optuna.distributions.CategoricalDistribution([False, True])
    out[f"{family}.geometric"] = optuna.distributions.CategoricalDistribution([False, True])
    out[f"{family}.onset"] = optuna.distributions.FloatDistribution(0.0, 0.6)
    if any(s.optional for s in schedule(family).values()):
        out[f"{family}.until"] = optuna.distributions.FloatDistribution(0.1, 1.0)
    return out


def suggest(trial: optuna.Trial, families: tuple[str, ...] = FAMILIES) -> dict[str, Any]:
    """A point of the space, drawn by the study's sampler (the family first, then its
    settings: a conditional space)."""
    family = str(trial.suggest_categorical("family", families))
    params: dict[str, Any] = {"family": family}
    for key, dist in distributions(family, families).items():
        if key == "family":
            continue
        if isinstance(dist, optuna.distributions.CategoricalDistribution):
            params[key] = trial.suggest_categorical(key, [False, True])
        else:
            assert isinstance(dist, optuna.distributions.FloatDistribution)
            params[key] = trial.suggest_float(key, dist.low, dist.high, log=dist.log)
    return params


def ramps(params: dict[str, Any]) -> dict[str, Ramp]:
    """The ramps a point stands for; each spends more with beta."""
    family = params["family"]
    geometric = bool(params.get(f"{family}.geometric", True))
    onset = round(float(params.get(f"{family}.onset", 0.0)), 4)
    until = round(float(params.get(f"{family}.until", 1.0)), 4)
    out: dict[str, Ramp] = {}
    for name, s in schedule(family).items():
        key = f"{family}.{name}"
        lo = round(float(params[f"{key}.lo"]), 4)
        if s.optional and not params.get(f"{key}.on", True):
            out[name] = Ramp(0, 0)
            continue
        if s.spend == 0:
            out[name] = Ramp(lo, lo)
            continue
        spread = float(params[f"{key}.spread"])
        hi = lo + spread * (s.upper - lo) if s.spend > 0 else lo - spread * (lo - s.lower)
        knee = {"until": until} if s.optional else {"onset": onset}
        out[name] = Ramp(lo, round(hi, 4), geometric=geometric and s.geometric and lo > 0, **knee)
    return out


def controller_class(
    name: str, params: dict[str, Any], rule: LinearRule | None = None
) -> type[Controller]:
    """The point's family with the point's ramps (and a learned family's fitted ``rule``),
    for in-process evaluation."""
    data: dict[str, Any] = {"ramps": ramps(params)}
    if rule is not None:
        data["rule"] = rule
    return family_class(params["family"]).with_data(name, data)


def builtin_params(family: str) -> dict[str, Any]:
    """The built-in of ``family`` as a point of the space (no knees)."""
    geometric = any(s.ramp.geometric for s in schedule(family).values())
    params: dict[str, Any] = {"family": family, f"{family}.geometric": geometric,
                              f"{family}.onset": 0.0}  # fmt: skip
    for name, s in schedule(family).items():
        key, ramp = f"{family}.{name}", s.ramp
        if s.optional:
            params[f"{key}.on"] = ramp.hi > 0
            params[f"{family}.until"] = 1.0
        lo = float(min(max(ramp.lo, s.lower), s.upper))  # as the sampler stores it
        params[f"{key}.lo"] = lo
        if s.spend != 0:
            room = (s.upper - lo) if s.spend > 0 else (lo - s.lower)
            params[f"{key}.spread"] = min(1.0, abs(ramp.hi - ramp.lo) / room) if room > 0 else 0.0
    return params


def document(
    name: str, params: dict[str, Any], description: str, rule: LinearRule | None = None
) -> ControllerDocument:
    """The controller document for a point: its family with the point's ramps (and rule)."""
    cls = controller_class(name, params, rule)
    return ControllerDocument(name=name, description=description, controller=spec_of(cls))
