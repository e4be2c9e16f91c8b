"""A discovery run's history: typed records, one JSON line each, so a stopped run resumes.

The first line says the schema (``tts-discovery-history/2``) and the setup the search ran on;
then one record per measurement: the built-ins' curves (``Reference``), every candidate as
proposed and measured on the search set (``Candidate``), and the finalists measured again on
fresh orderings (``Measurement``). A torn last line -- a run killed mid-write -- is skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    TypeAdapter,
    ValidationError,
)

from tts_proxy.controllers.document import RuleSpec
from tts_proxy.discovery.curves import Curve

SCHEMA = "tts-discovery-history/2"


def _curve(value: Any) -> Curve:
    return value if isinstance(value, Curve) else Curve.from_json(value)


CurveField = Annotated[Curve, PlainValidator(_curve), PlainSerializer(Curve.to_json)]
Params = dict[str, float | bool | str]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Setup(_Record):
    """What the search ran on: a history of another setup is refused, not mixed in."""

    kind: Literal["setup"] = "setup"
    schema_: Literal["tts-discovery-history/2"] = Field("tts-discovery-history/2", alias="schema")
    search: list[dict[str, Any]]  # each environment's resolved path and question indices
    betas: list[float]
    repeats: int
    seed: int
    width: int
    families: list[str]


class Reference(_Record):
    """A built-in's curve on the search set: on the search's orderings, or (``final``) on the
    finalists' fresh ones."""

    kind: Literal["reference"] = "reference"
    name: str
    final: bool = False
    repeats: int
    curve: CurveField


class Candidate(_Record):
    """One proposal, as proposed and measured on the search set. ``params``: a point of the
    search space (``families``), with ``rule`` for the learned family; ``source``: an agent's
    file. ``value``: what it adds to the
    built-ins' objective, in points (``objective.gain``)."""

    kind: Literal["candidate"] = "candidate"
    id: int
    round: int
    proposer: Literal["tpe", "anchor", "learned", "agent"]
    status: Literal["ok", "failed", "rejected"]
    params: Params | None = None
    rule: RuleSpec | None = None  # the fitted stopping rule of a ``learned`` point
    source: str | None = None
    path: str | None = None
    controller: str | None = None
    reason: str | None = None
    curve: CurveField | None = None
    value: float | None = None
    trial: int | None = None
    seconds: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.curve is not None and self.value is not None

    @property
    def is_data(self) -> bool:
        """A point of the search space (runs in process), not an agent's code."""
        return self.params is not None


class Measurement(_Record):
    """A finalist measured again on the search set, on fresh orderings at every report beta."""

    kind: Literal["final"] = "final"
    id: int
    repeats: int
    curve: CurveField
    value: float


Record = Annotated[Setup | Reference | Candidate | Measurement, Field(discriminator="kind")]
_RECORD: TypeAdapter[Setup | Reference | Candidate | Measurement] = TypeAdapter(Record)


class HistoryError(ValueError):
    """A history file that this run must not continue."""


class History:
    """The records of one run, appended to ``path`` as they are made."""

    def __init__(self, path: Path, setup: Setup) -> None:
        self.path = path
        self.setup = setup
        self.references: list[Reference] = []
        self.candidates: list[Candidate] = []
        self.measurements: dict[int, Measurement] = {}
        if path.exists():
            self._load()
        else:
            self._append(setup)

    def _load(self) -> None:
        lines = self.path.read_text().splitlines()
        records = []
        for line in lines:
            try:
                records.append(_RECORD.validate_json(line))
            except ValidationError:
                continue  # a torn last line, or a line of another schema
        setups = [r for r in records if isinstance(r, Setup)]
        if not setups:
            raise HistoryError(f"{self.path} is not a {SCHEMA} file; give --history a new file")
        if setups[0] != self.setup:
            raise HistoryError(
                f"{self.path} was written for other data or settings; give --history a new file"
            )
        for r in records:
            self._keep(r)

    def _keep(self, record: Setup | Reference | Candidate | Measurement) -> None:
        if isinstance(record, Reference):
            self.references.append(record)
        elif isinstance(record, Candidate):
            self.candidates.append(record)
        elif isinstance(record, Measurement):
            self.measurements[record.id] = record

    def _append(self, record: _Record) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(record.model_dump_json(by_alias=True, exclude_none=True) + "\n")

    def add(self, record: Reference | Candidate | Measurement) -> None:
        """Keep ``record`` and append it to the file."""
        self._keep(record)
        self._append(record)

    def reference(self, name: str, *, final: bool, repeats: int) -> Reference | None:
        return next(
            (r for r in self.references
             if r.name == name and r.final == final and r.repeats == repeats),
            None,
        )  # fmt: skip

    def candidate(self, cid: int) -> Candidate:
        return next(c for c in self.candidates if c.id == cid)

    @property
    def next_id(self) -> int:
        return len(self.candidates)

    @property
    def rounds_done(self) -> int:
        return max((c.round for c in self.candidates), default=-1) + 1

    def ranked(self) -> list[Candidate]:
        """Accepted candidates, best value first."""
        ok = [c for c in self.candidates if c.ok]
        return sorted(ok, key=lambda c: -(c.value or 0.0))
