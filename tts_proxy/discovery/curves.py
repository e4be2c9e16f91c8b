"""Accuracy-tokens curves: measuring a controller over a beta sweep, and comparing curves.

A curve point is one beta: accuracy and tokens per question, each averaged over the
environments (equal weight per environment) and, within one, over seeded random orderings
of the recorded trajectories. Between measured points a curve is linear in tokens: running
two betas at random in some proportion costs and scores the same mix, so every point on the
segment is reachable.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from tts_proxy.controllers.base import Controller, Limits
from tts_proxy.discovery.environments import Environment
from tts_proxy.replay.environment import ReplayQuestion
from tts_proxy.replay.evaluate import Evaluation, evaluate, is_correct, ordering, replay_one

# Dense at the cheap end, where one more probe changes the cost by a few percent.
SEARCH_BETAS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
REPORT_BETAS = tuple(sorted({i / 10 for i in range(11)} | set(SEARCH_BETAS) | {0.25}))
DEFAULT_WIDTH = 64


@dataclass(frozen=True, slots=True)
class Point:
    beta: float
    accuracy: float  # in [0, 1]
    tokens: float  # per question
    orderings: tuple[float, ...] = ()  # the accuracy on each ordering (one environment's)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Point:
        return cls(data["beta"], data["accuracy"], data["tokens"],
                   tuple(data.get("orderings", ())))  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"beta": self.beta, "accuracy": self.accuracy,
                               "tokens": self.tokens}  # fmt: skip
        if self.orderings:
            out["orderings"] = list(self.orderings)
        return out


@dataclass(frozen=True, slots=True)
class Curve:
    points: tuple[Point, ...]
    per_environment: tuple[tuple[str, tuple[Point, ...]], ...] = ()
    faults: tuple[str, ...] = ()  # what the controller did wrong while measured (not stored)

    def to_json(self) -> dict[str, Any]:
        return {
            "points": [p.to_json() for p in self.points],
            "per_environment": {
                name: [p.to_json() for p in pts] for name, pts in self.per_environment
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Curve:
        return cls(
            tuple(Point.from_json(p) for p in data["points"]),
            tuple(
                (name, tuple(Point.from_json(p) for p in pts))
                for name, pts in data.get("per_environment", {}).items()
            ),
        )

    def accuracy_within(self, tokens: float) -> float | None:
        """The best accuracy reachable with at most ``tokens`` per question (None: none is)."""
        pts = sorted(self.points, key=lambda p: p.tokens)
        if not pts or tokens < pts[0].tokens:
            return None
        best = max(p.accuracy for p in pts if p.tokens <= tokens)
        for a, b in itertools.pairwise(pts):
            if a.tokens <= tokens < b.tokens:
                share = (tokens - a.tokens) / (b.tokens - a.tokens)
                best = max(best, a.accuracy + share * (b.accuracy - a.accuracy))
        return best


@dataclass(frozen=True, slots=True)
class _Measured:
    """One evaluation's figures, as a point needs them."""

    questions: tuple[ReplayQuestion, ...]  # held, so that the id in the key stays theirs
    accuracy: float
    tokens: float
    orderings: tuple[float, ...]
    faults: tuple[str, ...]


class Memo:
    """Points measured before, by what their replays depended on (``Controller.replay_key``:
    the deciding code and the settings a beta resolves to) and on which questions, orderings
    and seed. A beta, or another controller, that resolves to settings already measured
    there is not replayed again: the same decisions give the same point. Least recently used
    entries go past ``size``."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.hits = 0
        self._entries: OrderedDict[Hashable, _Measured] = OrderedDict()

    def get(self, key: Hashable) -> _Measured | None:
        found = self._entries.get(key)
        if found is not None:
            self.hits += 1
            self._entries.move_to_end(key)
        return found

    def put(self, key: Hashable, measured: _Measured) -> None:
        self._entries[key] = measured
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)


MEASURED = Memo()  # this process's: discovery measures the same settings many times


def measure(
    controller: type[Controller],
    environments: Sequence[Environment],
    betas: Sequence[float] = SEARCH_BETAS,
    *,
    repeats: int = 16,
    seed: int = 0,
    width: int = DEFAULT_WIDTH,
    memo: Memo | None = MEASURED,
) -> Curve:
    """The controller's curve over ``betas`` on ``environments`` (points already in ``memo``
    are read from it)."""
    return combine(
        [measure_environment(controller, env, betas, repeats=repeats, seed=seed, width=width,
                             memo=memo) for env in environments],
        betas,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class EnvironmentPoints:
    """A controller's points on one environment, and up to three of its faults there."""

    name: str
    points: tuple[Point, ...]
    faults: tuple[str, ...]


def measure_environment(
    controller: type[Controller],
    env: Environment,
    betas: Sequence[float],
    *,
    repeats: int,
    seed: int,
    width: int,
    memo: Memo | None = MEASURED,
) -> EnvironmentPoints:
    """The controller's points over ``betas`` on one environment."""
    limits = Limits(max_branches=width)
    pts = []
    faults: list[str] = []
    for beta in betas:
        got = _measured(controller, env, beta, limits, repeats, seed, memo)
        pts.append(Point(beta, got.accuracy, got.tokens, got.orderings))
        faults += got.faults[: max(0, 3 - len(faults))]
    return EnvironmentPoints(env.name, tuple(pts), tuple(faults))


def combine(per_env: Sequence[EnvironmentPoints], betas: Sequence[float]) -> Curve:
    """One curve from a controller's points on each environment: each point the mean over
    the environments (each weighs the same)."""
    mean = tuple(
        Point(
            beta,
            sum(e.points[i].accuracy for e in per_env) / len(per_env),
            sum(e.points[i].tokens for e in per_env) / len(per_env),
        )
        for i, beta in enumerate(betas)
    )
    faults = [f for e in per_env for f in e.faults][:3]
    return Curve(mean, tuple((e.name, e.points) for e in per_env), tuple(faults))


def _measured(
    controller: type[Controller],
    env: Environment,
    beta: float,
    limits: Limits,
    repeats: int,
    seed: int,
    memo: Memo | None,
) -> _Measured:
    """One point's figures: from ``memo`` when it holds the same replays, else replayed."""
    key = None
    if memo is not None and (behaviour := controller.replay_key(beta, limits)) is not None:
        key = (behaviour, id(env.questions), repeats, seed)
        if (found := memo.get(key)) is not None:
            return found
    ev = evaluate(controller, env.questions, beta, limits=limits, repeats=repeats, seed=seed)
    got = _Measured(env.questions, ev.accuracy, ev.tokens_per_question, _by_ordering(ev),
                    tuple(ev.faults[:3]))  # fmt: skip
    if memo is not None and key is not None:
        memo.put(key, got)
    return got


def _by_ordering(ev: Evaluation) -> tuple[float, ...]:
    """The accuracy on each ordering (each repeat replays every question once)."""
    right: dict[int, list[bool]] = {}
    for e in ev.episodes:
        right.setdefault(e.repeat, []).append(e.correct)
    return tuple(round(sum(r) / len(r), 6) for _, r in sorted(right.items()))


@dataclass(frozen=True, slots=True)
class Gap:
    """One reference point against a candidate curve: the accuracy difference at its budget."""

    reference: str
    beta: float
    tokens: float
    accuracy: float
    candidate_accuracy: float | None

    @property
    def difference(self) -> float:
        """Candidate minus reference, in accuracy points (a candidate that cannot spend this
        little answers nothing: accuracy 0)."""
        return ((self.candidate_accuracy or 0.0) - self.accuracy) * 100

    def holds(self, tolerance_points: float = 0.5) -> bool:
        return self.difference >= -tolerance_points


def compare(candidate: Curve, references: dict[str, Curve]) -> list[Gap]:
    """Every reference point, with the candidate's best accuracy within its budget."""
    return [
        Gap(name, p.beta, p.tokens, p.accuracy, candidate.accuracy_within(p.tokens))
        for name, curve in references.items()
        for p in curve.points
    ]


def failure_traces(
    controller: type[Controller],
    environment: Environment,
    beta: float,
    *,
    limit: int = 3,
    seed: int = 0,
    width: int = DEFAULT_WIDTH,
) -> list[dict[str, Any]]:
    """Execution traces of up to ``limit`` wrong answers: each round's actions, the probe
    answers seen, why the search stopped, what it answered and what was right."""
    return asyncio.run(_failures(controller, environment, beta, limit, seed, width))


async def _failures(
    controller: type[Controller],
    environment: Environment,
    beta: float,
    limit: int,
    seed: int,
    width: int,
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for qi, question in enumerate(environment.questions):
        size = len(question.branches)
        limits = Limits(min(width, size), None, question.chunk_tokens)
        order = ordering(qi, 0, size, None, seed)
        result = await replay_one(controller, question, beta, limits, order, seed=seed, record=True)
        if is_correct(result.answer, question.label):
            continue
        found.append(
            {
                "environment": environment.name,
                "question": question.id,
                "label": question.label,
                "answer": result.answer,
                "stop_reason": result.stop_reason,
                "tokens": result.tokens,
                "rounds": [[repr(a) for a in actions] for actions in result.log[:12]],
                "rounds_total": len(result.log),
                "final_answers": [b.answer for b in result.branches if b.finished][:16],
                "latest_probes": [
                    b.probes[-1].answer for b in result.branches if b.probes and not b.finished
                ][:16],
            }
        )
        if len(found) >= limit:
            break
    return found
