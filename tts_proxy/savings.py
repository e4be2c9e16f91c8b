"""What a search saved, against a stated baseline -- and what such a saving costs in accuracy.

*Baseline*: self-consistency at a reference width the operator sets
(``savings_reference_width``; default the server's ``max_branches``): that many samples of the
length this request's finished branches had (or, when none finished, the model's recent ones).
A request's saving is that baseline's tokens minus what it spent; its savings ratio, one minus
their ratio (negative when the search spent more than the baseline).

*Reference*: a saving alone says nothing of what it cost. The replay report
(``reports/savings.json``, written by ``benchmarks/frontier.py`` or by discovery) gives, per
controller and beta, the share of its own baseline's tokens the controller saved on recorded
data and the accuracy it lost or gained there; each response carries the entry nearest its
controller's beta, so "saved 86%" reads "saved 86% of SC@64's tokens at -0.3 points on AIME24".
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tts_proxy.state import BranchState

RECENT = 256


class Baseline(BaseModel):
    """The live counterfactual of one request."""

    method: str  # "sc@8": self-consistency at that width
    tokens: int
    tokens_saved: int  # may be negative: the search spent more than the baseline
    savings_ratio: float | None


class ReferencePoint(BaseModel):
    """One controller at one beta, measured by replay against ``baseline``."""

    model_config = ConfigDict(extra="forbid")

    beta: float = Field(ge=0.0, le=1.0)
    savings_ratio: float
    accuracy_delta_points: float  # accuracy minus the baseline's, in points


class SavingsReport(BaseModel):
    """``reports/savings.json``: replay-measured savings of each controller."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: str = Field("tts-savings/1", alias="schema")
    baseline: str
    data: str
    source: str
    controllers: dict[str, list[ReferencePoint]]


class Reference(BaseModel):
    """What a response says the saving of its controller cost on the reference data."""

    data: str
    baseline: str
    beta: float
    savings_ratio: float
    accuracy_delta_points: float


def read_report(path: Path | None) -> SavingsReport | None:
    """The replay report, or None when there is none (or it is not one)."""
    if path is None:
        return None
    try:
        return SavingsReport.model_validate(json.loads(path.read_text()))
    except (OSError, ValueError, ValidationError):
        return None


def reference(report: SavingsReport | None, controller: str, beta: float) -> Reference | None:
    """The report's point nearest ``beta`` for ``controller``, if it has one."""
    points = report.controllers.get(controller) if report is not None else None
    if not points:
        return None
    assert report is not None
    near = min(points, key=lambda p: abs(p.beta - beta))
    return Reference(data=report.data, baseline=report.baseline, beta=near.beta,
                     savings_ratio=near.savings_ratio,
                     accuracy_delta_points=near.accuracy_delta_points)  # fmt: skip


class SavingsEstimator:
    """The live baseline of each request; keeps recent finished lengths per model."""

    def __init__(self, width: int, recent: int = RECENT) -> None:
        self.width = width
        self._lengths: defaultdict[str, deque[int]] = defaultdict(lambda: deque(maxlen=recent))

    def estimate(self, model: str, branches: Sequence[BranchState], spent: int) -> Baseline | None:
        finished = [b.tokens for b in branches if b.finished]
        self._lengths[model].extend(finished)
        lengths = finished or list(self._lengths[model])
        if not lengths:
            return None
        tokens = round(self.width * sum(lengths) / len(lengths))
        ratio = 1 - spent / tokens if tokens else None
        return Baseline(method=f"sc@{self.width}", tokens=tokens, tokens_saved=tokens - spent,
                        savings_ratio=None if ratio is None else round(ratio, 4))  # fmt: skip
