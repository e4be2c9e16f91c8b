"""Controllers as data: what discovery ships is a JSON document that built-in code interprets.

A document (``tts-controller/1``) names one built-in family -- optionally with its own ramps
for the settings the family declares in its ``schedule`` -- or composes controllers:
``stitched`` runs one beta knob through pieces of other controllers (``controllers.stitched``).
Loading a document runs nothing of it: pydantic checks it against the families' schedules
(every ramp must spend more with beta, the pieces must tile [0, 1] in order) and built-in
classes do the rest, so a document is as safe to load as the built-ins themselves -- except a
piece that names a controller *file* (``FileSpec``: an agent's code that discovery stitched
in), which the registry loads as it loads any such file (trusted, or gated and sandboxed),
and only if its bytes are the ones the document pins. A document
that records the width it was calibrated at (``calibrated``) has its branch-counting settings
scaled to a request of another width, and the answer's ``tts.warnings`` says so; at another
chunk it warns too (its counts of rounds and probes are the calibration's).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tts_proxy.controllers.base import Controller, Ramp
from tts_proxy.controllers.learned import FEATURES, LearnedStop, LinearRule
from tts_proxy.controllers.stitched import Piece, Stitched
from tts_proxy.errors import ControllerLoadError

SCHEMA = "tts-controller/1"
Family = Literal["sc", "asc", "esc", "probe_exit", "parallel_probe", "cmc", "learned"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RampSpec(_Strict):
    """A setting as a function of beta (``controllers.base.Ramp``)."""

    lo: float
    hi: float
    geometric: bool = False
    onset: float = Field(0.0, ge=0.0, le=1.0)
    until: float = Field(1.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _sane(self) -> RampSpec:
        if not (math.isfinite(self.lo) and math.isfinite(self.hi)):
            raise ValueError("a ramp's ends must be finite")
        if self.geometric and (self.lo <= 0 or self.hi <= 0):
            raise ValueError("a geometric ramp's ends must be positive")
        if self.onset > self.until:
            raise ValueError("a ramp's onset must not come after its end")
        return self

    def ramp(self) -> Ramp:
        return Ramp(self.lo, self.hi, self.geometric, self.onset, self.until)


class RuleSpec(_Strict):
    """A fitted stopping rule's numbers (``controllers.learned.LinearRule``), one per feature."""

    weights: list[float]
    bias: float
    mean: list[float]
    scale: list[float]

    @model_validator(mode="after")
    def _fits_the_features(self) -> RuleSpec:
        n = len(FEATURES)
        if not len(self.weights) == len(self.mean) == len(self.scale) == n:
            raise ValueError(f"a rule has one weight, mean and scale per feature: {n} each")
        numbers = [*self.weights, self.bias, *self.mean, *self.scale]
        if not all(math.isfinite(x) for x in numbers) or any(s <= 0 for s in self.scale):
            raise ValueError("a rule's numbers must be finite and its scales positive")
        return self

    def rule(self) -> LinearRule:
        return LinearRule(tuple(self.weights), self.bias, tuple(self.mean), tuple(self.scale))


class FamilySpec(_Strict):
    """A built-in controller, with its own ramps for its schedule (a searched setting) or not,
    and for ``learned`` its fitted rule."""

    kind: Literal["family"] = "family"
    family: Family
    ramps: dict[str, RampSpec] | None = None
    rule: RuleSpec | None = None

    @model_validator(mode="after")
    def _ramps_fit_the_family(self) -> FamilySpec:
        if self.rule is not None and self.family != "learned":
            raise ValueError(f"only learned takes a rule, not {self.family}")
        if self.ramps is None:
            return self
        schedule = _builtins()[self.family].schedule
        if set(self.ramps) != set(schedule):
            raise ValueError(f"{self.family}'s ramps are exactly {sorted(schedule)}")
        for name, r in self.ramps.items():
            direction = schedule[name].spend
            if (direction > 0 and r.hi < r.lo) or (direction < 0 and r.hi > r.lo):
                raise ValueError(f"ramp {name!r} spends less as beta grows")
            if direction == 0 and r.hi != r.lo:
                raise ValueError(f"ramp {name!r} is fixed: lo and hi must be equal")
        return self


class FileSpec(_Strict):
    """A controller file beside the document: ``path`` relative to the document's directory
    (one folder down, no way out of it), ``sha256`` the bytes it was measured as."""

    kind: Literal["file"] = "file"
    path: str = Field(pattern=r"^[a-z0-9_]{1,80}/[A-Za-z0-9_]{1,64}\.py$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class PieceSpec(_Strict):
    """Beta in [start, end] runs ``controller`` at a beta moving from ``lo`` to ``hi``."""

    start: float = Field(ge=0.0, le=1.0)
    end: float = Field(ge=0.0, le=1.0)
    lo: float = Field(ge=0.0, le=1.0)
    hi: float = Field(ge=0.0, le=1.0)
    controller: Annotated[FamilySpec | FileSpec, Field(discriminator="kind")]

    @model_validator(mode="after")
    def _rising(self) -> PieceSpec:
        if self.end < self.start or self.hi < self.lo:
            raise ValueError("a piece runs forward: start <= end and lo <= hi")
        return self


class StitchedSpec(_Strict):
    """One beta knob through consecutive pieces, cheapest first."""

    kind: Literal["stitched"] = "stitched"
    pieces: list[PieceSpec] = Field(min_length=1)

    @field_validator("pieces")
    @classmethod
    def _tile(cls, pieces: list[PieceSpec]) -> list[PieceSpec]:
        if pieces[0].start != 0.0 or pieces[-1].end != 1.0:
            raise ValueError("the pieces must cover beta from 0 to 1")
        for a, b in itertools.pairwise(pieces):
            if b.start != a.end:
                raise ValueError(
                    f"pieces must meet: one ends at {a.end}, the next starts at {b.start}"
                )
        return pieces


Spec = Annotated[FamilySpec | StitchedSpec, Field(discriminator="kind")]


class Calibration(_Strict):
    """The request limits a searched controller was measured at."""

    max_branches: int = Field(gt=0)
    chunk_tokens: int = Field(gt=0)


class ControllerDocument(_Strict):
    """A controller as data: its served name, what it is, and where it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_: Literal["tts-controller/1"] = Field("tts-controller/1", alias="schema")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    description: str = Field("", max_length=20_000)
    calibrated: Calibration | None = None
    controller: Spec


def _builtins() -> dict[str, type[Controller]]:
    from tts_proxy.controllers import builtin_controllers

    return builtin_controllers()


FileLoader = Callable[[FileSpec], type[Controller]]


def _no_files(spec: FileSpec) -> type[Controller]:
    raise ControllerLoadError(
        f"a piece runs the controller file {spec.path}: load the document through the registry"
    )


def build(
    spec: FamilySpec | StitchedSpec,
    name: str = "",
    calibrated: Calibration | None = None,
    files: FileLoader = _no_files,
) -> type[Controller]:
    """The controller class a spec stands for. Built-in classes do the work; nothing is run,
    except that a piece naming a file gets what ``files`` makes of it (the registry's load)."""
    if isinstance(spec, StitchedSpec):
        pieces = tuple(
            Piece(p.start, p.end, _piece(p.controller, calibrated, files), p.lo, p.hi)
            for p in spec.pieces
        )
        return type(name or "stitched", (Stitched,), {"name": name, "pieces": pieces})
    family = _builtins()[spec.family]
    data: dict[str, object] = {}
    if spec.ramps is not None:
        data["ramps"] = {k: r.ramp() for k, r in spec.ramps.items()}
    if spec.rule is not None:
        data["rule"] = spec.rule.rule()
    if calibrated is not None:
        data |= _calibration(calibrated)
    if not data and not name:
        return family  # a piece with nothing of its own is the family itself
    return family.with_data(name or family.name, data, name or f"{family.name}_setting")


def _piece(
    spec: FamilySpec | FileSpec, calibrated: Calibration | None, files: FileLoader
) -> type[Controller]:
    if not isinstance(spec, FileSpec):
        return build(spec, calibrated=calibrated)
    code = files(spec)
    if calibrated is None:
        return code
    return code.with_data(code.name, _calibration(calibrated), code.__name__)


def _calibration(calibrated: Calibration) -> dict[str, object]:
    return {"calibrated": True, "calibrated_width": calibrated.max_branches,
            "calibrated_chunk": calibrated.chunk_tokens}  # fmt: skip


def spec_of(
    cls: type[Controller], files: Mapping[type[Controller], FileSpec] | None = None
) -> FamilySpec | StitchedSpec:
    """The spec of a built-in, a searched setting of one or a stitched controller (``build``'s
    inverse); a piece that is code is named by its entry in ``files``."""
    files = files or {}
    if issubclass(cls, Stitched):
        return StitchedSpec(pieces=[_piece_spec(p, files) for p in cls.pieces])
    return _family_of(cls)


def _piece_spec(p: Piece, files: Mapping[type[Controller], FileSpec]) -> PieceSpec:
    spec = files.get(p.controller) or _family_of(p.controller)
    return PieceSpec(start=p.start, end=p.end, lo=p.lo, hi=p.hi, controller=spec)


def _family_of(cls: type[Controller]) -> FamilySpec:
    builtins = _builtins()
    family = next((b for b in cls.__mro__ if builtins.get(getattr(b, "name", "")) is b), None)
    if family is None:
        raise TypeError(f"{cls.__name__} is no built-in's setting: it cannot be data")
    rule = None
    if issubclass(cls, LearnedStop) and cls.rule is not LearnedStop.rule:
        r = cls.rule
        rule = RuleSpec(weights=list(r.weights), bias=r.bias, mean=list(r.mean),
                        scale=list(r.scale))  # fmt: skip
    ramps = None
    if cls.ramps is not family.ramps and cls.schedule:
        ramps = {k: RampSpec(lo=r.lo, hi=r.hi, geometric=r.geometric, onset=r.onset,
                             until=r.until) for k, r in cls.ramps.items()}  # fmt: skip
    return FamilySpec(family=cast(Family, family.name), ramps=ramps, rule=rule)


def load_document(path: Path) -> ControllerDocument:
    """A document from a file; ``ControllerLoadError`` naming what is wrong with it."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ControllerLoadError(f"cannot read {path}: {exc.strerror}") from exc
    return parse_document(data, str(path))


def parse_document(data: bytes, where: str) -> ControllerDocument:
    """A document from its bytes; ``ControllerLoadError`` naming what is wrong with it."""
    try:
        return ControllerDocument.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "the document"
        raise ControllerLoadError(f"{where}: {field}: {first.get('msg')}") from exc


def write_document(path: Path, document: ControllerDocument) -> None:
    """Write ``document`` as indented JSON."""
    data: dict[str, Any] = document.model_dump(by_alias=True, exclude_none=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
