"""The controller interface: constructed with beta and the request's limits, one decision method."""

from __future__ import annotations

import abc
import random
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from tts_proxy.actions import Action, Probe
from tts_proxy.state import View, majority

CALIBRATED_WIDTH = 64  # the built-ins' schedules: AutoTTS's, and the shared replay files' width


@dataclass(frozen=True, slots=True)
class Limits:
    """What a search may spend. ``budget`` is total tokens (branches + probes), None = unbounded."""

    max_branches: int = 8
    budget: int | None = None
    chunk_tokens: int = 256
    max_branch_tokens: int | None = None


class Controller(abc.ABC):
    """A test-time-scaling policy. Pure: no I/O, no clock, randomness only from ``rng``.

    Subclasses set ``name`` and implement ``decide``; every internal setting must be a
    monotone function of ``beta`` (more beta never spends less). A built-in declares its
    settings in ``schedule`` (one ``Setting`` each: its ramp, which way it spends, its search
    range, whether it counts branches); ``ramps`` may replace the ramps (a searched setting),
    and ``value(name)`` reads one at this request's beta and width.
    """

    name: ClassVar[str] = ""
    schedule: ClassVar[dict[str, Setting]] = {}
    ramps: ClassVar[dict[str, Ramp]] = {}
    # The width the ramps of branch-counting settings were written for; a request of another
    # width scales those settings. Controller documents record theirs (``calibrated``).
    calibrated_width: ClassVar[int] = CALIBRATED_WIDTH
    calibrated: ClassVar[bool] = False  # True for a document that recorded its own
    # The chunk a document was measured at: its counts of rounds and probes mean that many
    # tokens, and are not rescaled (only noted) at another chunk.
    calibrated_chunk: ClassVar[int | None] = None
    # True when every branch runs to its end in one request (no chunk-by-chunk reading, no
    # probes): then per-request constraints (structured output, penalties) hold branch-wide.
    whole_branches: ClassVar[bool] = False
    # True when it reads branches' token confidence (DeepConf): the search then asks the
    # model server for top-k logprobs of every branch token (a throughput cost).
    wants_confidence: ClassVar[bool] = False
    # The class whose code decides, when decisions depend on beta only through ``values``
    # (then betas that resolve alike decide alike: ``replay_key``). A class says so itself
    # (``class X(Controller, decides_by_settings=True)``) and a subclass does not inherit
    # it: its own code may read beta. A document's class (``document.build``: ramps, a rule,
    # a calibration, no code) carries its family's.
    settings_code: ClassVar[type[Controller] | None] = None

    def __init_subclass__(cls, *, decides_by_settings: bool = False, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if decides_by_settings:
            cls.settings_code = cls
        elif "settings_code" not in cls.__dict__:
            cls.settings_code = None

    def __init__(self, beta: float, limits: Limits, rng: random.Random | None = None) -> None:
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f"beta must be in [0, 1], got {beta}")
        self.beta = beta
        self.limits = limits
        self.rng = rng or random.Random(0)
        self.values = self.resolve(beta, limits)

    @classmethod
    def with_data(
        cls, name: str, data: Mapping[str, object], class_name: str = ""
    ) -> type[Controller]:
        """A subclass served as ``name`` that changes data only (``ramps``, a ``rule``, a
        calibration), not code: it decides by this class's code (``settings_code``)."""
        attrs = {"name": name, "settings_code": cls.settings_code, **data}
        return type(class_name or name, (cls,), attrs)

    @classmethod
    def resolve(cls, beta: float, limits: Limits) -> dict[str, float]:
        """Every setting of ``schedule`` at ``beta`` and the request's width."""
        ramps = cls.ramps or {name: setting.ramp for name, setting in cls.schedule.items()}
        scale = width_scale(limits.max_branches, cls.calibrated_width)
        return {
            name: setting.resolve(ramps[name].at(beta), scale)
            for name, setting in cls.schedule.items()
        }

    @classmethod
    def replay_key(cls, beta: float, limits: Limits) -> Hashable | None:
        """What a run at ``beta`` under ``limits`` depends on besides the episode and the
        rng, where that is known: the deciding code and the settings beta resolves to. Runs
        with equal keys on the same episode and seed decide alike (replay measures them
        once). None: unknown (the code may read beta itself)."""
        if cls.settings_code is None:
            return None
        return (cls.settings_code, limits, tuple(sorted(cls.resolve(beta, limits).items())))

    def value(self, name: str) -> float:
        """One setting of ``schedule`` at this beta and width."""
        return self.values[name]

    @property
    def calibration_notes(self) -> tuple[str, ...]:
        """What differs from the calibration a document recorded, in words: another width
        (its branch-counting settings are then scaled; a piece that is code runs as written)
        or, for a controller that reads branches chunk by chunk, another chunk (its round and
        probe counts are not rescaled)."""
        notes = []
        width, measured_width = self.limits.max_branches, self.calibrated_width
        if self.calibrated and width != measured_width:
            if any(s.per_width for s in self.schedule.values()):
                notes.append(f"calibrated at {measured_width} branches: its branch counts are "
                             f"scaled to this request's {width}")  # fmt: skip
            elif not self.schedule:  # code: what it does at another width was not measured
                notes.append(f"calibrated at {measured_width} branches: it is code, run as "
                             f"written at this request's {width}")  # fmt: skip
        chunk, measured = self.limits.chunk_tokens, self.calibrated_chunk
        if measured is not None and chunk != measured and not self.whole_branches:
            notes.append(
                f"calibrated at chunks of {measured} tokens: its counts of rounds and probes "
                f"are not rescaled to this request's {chunk}"
            )
        return tuple(notes)

    @abc.abstractmethod
    def decide(self, view: View) -> Sequence[Action]:
        """The actions to run this round, all at once."""

    def aggregate(self, view: View) -> str | None:
        """The answer when the search ends without an explicit one: majority vote."""
        return majority_answer(view)

    # The engine calls these: a controller served from the sandbox (``remote``) answers over
    # a pipe, and the event loop must not wait on it. In-process controllers need not care.

    async def adecide(self, view: View) -> Sequence[Action]:
        """``decide``, awaited."""
        return self.decide(view)

    async def aaggregate(self, view: View) -> str | None:
        """``aggregate``, awaited."""
        return self.aggregate(view)

    def effective_settings(self) -> dict[str, float]:
        """The settings beta set, by name (what a rendered controller shows a reader)."""
        return dict(self.values)

    async def finish(self) -> None:
        """Called once when the search has ended, however it ended."""
        return None


def majority_answer(view: View) -> str | None:
    """Majority of the finished branches' answers, else of every branch's latest probe."""
    finals = [(b.answer, b.key) for b in view.branches if b.finished and b.answer is not None]
    return majority(finals or [(b.current_answer, b.current_key) for b in view.branches])


def unprobed(view: View) -> list[Probe]:
    """Probes for every running branch not yet probed at its depth (probe-then-decide rounds)."""
    return [Probe(b.id) for b in view.branches if b.active and b.depth and not b.probed_at_depth]


def interpolate(lo: float, hi: float, beta: float) -> float:
    """Linear map of beta in [0, 1] onto [lo, hi]."""
    return lo + (hi - lo) * beta


def geometric(lo: float, hi: float, beta: float) -> float:
    """Geometric map of beta onto [lo, hi] (both > 0): equal beta steps multiply the setting."""
    return float(lo * (hi / lo) ** beta)


@dataclass(frozen=True, slots=True)
class Ramp:
    """A setting as a smooth monotone function of beta: ``lo`` at beta 0, ``hi`` at beta 1.

    ``geometric`` ramps multiply by equal factors per beta step (both ends must be > 0).
    Whether ``hi >= lo`` or ``hi <= lo`` spends more depends on the setting; each controller
    that uses ramps says which way is "more spend" for each. The change may be confined to
    ``[onset, until]``: ``lo`` below it, ``hi`` above it (a knee, still monotone).
    """

    lo: float
    hi: float
    geometric: bool = False
    onset: float = 0.0
    until: float = 1.0

    def at(self, beta: float) -> float:
        span = self.until - self.onset
        t = 1.0 if span <= 0 else min(1.0, max(0.0, (beta - self.onset) / span))
        if self.geometric:
            return geometric(self.lo, self.hi, t)
        return interpolate(self.lo, self.hi, t)


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting of a controller's ``schedule``: the built-in's ramp, which way spends more
    (+1: a larger value, -1: a smaller one, 0: fixed at every beta), the range discovery
    searches it over, whether it is an integer, and whether it counts branches
    (``per_width``: written for ``calibrated_width`` branches, scaled to the request's).
    ``optional``: the search may also turn it off (value 0 at every beta)."""

    ramp: Ramp
    spend: int
    lower: float
    upper: float
    integer: bool = False
    geometric: bool = False  # searched on a log scale
    per_width: bool = False
    optional: bool = False

    def resolve(self, value: float, scale: float) -> float:
        """The setting's value from its ramp's, at a width ``scale`` (``width_scale``): a
        branch count scales the branches past the first, so one branch stays one."""
        if self.per_width:
            extra = (value - 1) * scale
            return 1 + round(extra) if self.integer else 1 + extra
        if self.integer:
            return 0 if self.optional and value <= 0 else max(1, round(value))
        return value


def width_scale(width: int, calibrated_width: int) -> float:
    """How branch counts written for ``calibrated_width`` branches scale to ``width``."""
    return (width - 1) / (calibrated_width - 1) if calibrated_width > 1 else 1.0
