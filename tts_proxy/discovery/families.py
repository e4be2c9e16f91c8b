"""The parameter-search space: CMC's ramps (``controllers/cmc.py``), and how a point in it
becomes a controller class (to evaluate in process) or a controller document (to ship).

Every ramp is sampled so that it spends more with beta by construction: for a setting where a
larger value spends more, ``hi = lo + spread * (upper - lo)`` with ``spread`` in [0, 1] (and
the mirror image where a larger value spends less). The parameters are all fixed-range
floats, so optuna's TPE can model them and a history file can re-seed a study.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import optuna

from tts_proxy.controllers.base import Ramp
from tts_proxy.controllers.cmc import SPEND, ConfidenceMomentum
from tts_proxy.controllers.document import ControllerDocument, spec_of


@dataclass(frozen=True, slots=True)
class Axis:
    """One setting's range. ``constant``: the same value at every beta."""

    lower: float
    upper: float
    geometric: bool = False
    constant: bool = False


SPACE: dict[str, Axis] = {
    "initial_width": Axis(1, 12, geometric=True),
    "max_width": Axis(1, 64, geometric=True),
    "widen_by": Axis(1, 8, geometric=True),
    "tau": Axis(0.4, 0.95),
    "min_pool": Axis(1, 12, geometric=True),
    "alpha": Axis(0.2, 0.9, constant=True),
    "stall": Axis(0.0, 0.1, constant=True),
    "abandon_patience": Axis(2, 64, geometric=True),
    "lag": Axis(1, 3, constant=True),
    "stable_probes": Axis(2, 32, geometric=True),
}


def distributions() -> dict[str, optuna.distributions.BaseDistribution]:
    """Every parameter's distribution (fixed, so past trials can be added back to a study)."""
    out: dict[str, optuna.distributions.BaseDistribution] = {}
    for name, axis in SPACE.items():
        out[f"{name}.lo"] = optuna.distributions.FloatDistribution(
            axis.lower, axis.upper, log=axis.geometric and axis.lower > 0
        )
        if not axis.constant:
            out[f"{name}.spread"] = optuna.distributions.FloatDistribution(0.0, 1.0)
    out["stable_probes.on"] = optuna.distributions.CategoricalDistribution([False, True])
    # Knees: the widths and stop bars change only from ``onset``; the probe patience only
    # until ``stable_probes.until`` -- so one branch can grow its patience first, then widen.
    out["onset"] = optuna.distributions.FloatDistribution(0.0, 0.6)
    out["stable_probes.until"] = optuna.distributions.FloatDistribution(0.1, 1.0)
    return out


def suggest(trial: optuna.Trial) -> dict[str, Any]:
    """A point of the space, drawn by the study's sampler."""
    params: dict[str, Any] = {}
    for key, dist in distributions().items():
        if isinstance(dist, optuna.distributions.CategoricalDistribution):
            params[key] = trial.suggest_categorical(key, [False, True])
        else:
            assert isinstance(dist, optuna.distributions.FloatDistribution)
            params[key] = trial.suggest_float(key, dist.low, dist.high, log=dist.log)
    return params


def ramps(params: dict[str, Any]) -> dict[str, Ramp]:
    """The ramps a point stands for; each spends more with beta."""
    out: dict[str, Ramp] = {}
    for name, axis in SPACE.items():
        lo = float(params[f"{name}.lo"])
        if axis.constant:
            out[name] = Ramp(round(lo, 4), round(lo, 4))
            continue
        spread = float(params[f"{name}.spread"])
        if SPEND[name] >= 0:
            hi = lo + spread * (axis.upper - lo)
        else:
            hi = lo - spread * (lo - axis.lower)
        onset, until = 0.0, 1.0
        if name == "stable_probes":
            until = round(float(params.get("stable_probes.until", 1.0)), 4)
        else:
            onset = round(float(params.get("onset", 0.0)), 4)
        out[name] = Ramp(
            round(lo, 4), round(hi, 4), geometric=axis.geometric and lo > 0,
            onset=onset, until=until,
        )  # fmt: skip
    if not params["stable_probes.on"]:
        out["stable_probes"] = Ramp(0, 0)
    return out


def controller_class(name: str, params: dict[str, Any]) -> type[ConfidenceMomentum]:
    """A CMC subclass with the point's ramps, for in-process evaluation."""
    return type(name, (ConfidenceMomentum,), {"name": name, "ramps": ramps(params)})


def document(name: str, params: dict[str, Any], description: str) -> ControllerDocument:
    """The controller document for a point: the built-in CMC with the point's ramps."""
    return ControllerDocument(
        name=name, description=description, controller=spec_of(controller_class(name, params))
    )
