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
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from tts_proxy.controllers.base import Controller, Limits
from tts_proxy.discovery.environments import Environment
from tts_proxy.replay.evaluate import evaluate, is_correct, ordering, replay_one

# Dense at the cheap end, where one more probe changes the cost by a few percent.
SEARCH_BETAS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
REPORT_BETAS = tuple(sorted({i / 10 for i in range(11)} | set(SEARCH_BETAS) | {0.25}))
DEFAULT_WIDTH = 64


@dataclass(frozen=True, slots=True)
class Point:
    beta: float
    accuracy: float  # in [0, 1]
    tokens: float  # per question


@dataclass(frozen=True, slots=True)
class Curve:
    points: tuple[Point, ...]
    per_environment: tuple[tuple[str, tuple[Point, ...]], ...] = ()
    faults: tuple[str, ...] = ()  # what the controller did wrong while measured (not stored)

    def to_json(self) -> dict[str, Any]:
        return {
            "points": [asdict(p) for p in self.points],
            "per_environment": {
                name: [asdict(p) for p in pts] for name, pts in self.per_environment
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Curve:
        return cls(
            tuple(Point(**p) for p in data["points"]),
            tuple(
                (name, tuple(Point(**p) for p in pts))
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


def measure(
    controller: type[Controller],
    environments: Sequence[Environment],
    betas: Sequence[float] = SEARCH_BETAS,
    *,
    repeats: int = 16,
    seed: int = 0,
    width: int = DEFAULT_WIDTH,
) -> Curve:
    """The controller's curve over ``betas`` on ``environments``."""
    per_env: list[tuple[str, tuple[Point, ...]]] = []
    faults: list[str] = []
    for env in environments:
        pts = []
        for beta in betas:
            ev = evaluate(
                controller,
                env.questions,
                beta,
                limits=Limits(max_branches=width),
                repeats=repeats,
                seed=seed,
            )
            pts.append(Point(beta, ev.accuracy, ev.tokens_per_question))
            faults += ev.faults[: max(0, 3 - len(faults))]
        per_env.append((env.name, tuple(pts)))
    mean = tuple(
        Point(
            beta,
            sum(pts[i].accuracy for _, pts in per_env) / len(per_env),
            sum(pts[i].tokens for _, pts in per_env) / len(per_env),
        )
        for i, beta in enumerate(betas)
    )
    return Curve(mean, tuple(per_env), tuple(faults))


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


def score(candidate: Curve, references: dict[str, Curve]) -> float:
    """How far the candidate sits above the references, in accuracy points: the mean shortfall
    (counted three times: being below any curve is what discovery must avoid) plus the mean
    gain, over every reference point. 0 or more means on or above every curve.

    With per-environment curves on both sides, the score is the mean of the per-environment
    scores: a controller must hold up on each model, not only on their average (held-out
    models differ from the search models in exactly that way)."""
    envs = [name for name, _ in candidate.per_environment]
    if envs and all({n for n, _ in r.per_environment} >= set(envs) for r in references.values()):
        per_env = []
        for name, points in candidate.per_environment:
            refs = {k: Curve(dict(r.per_environment)[name]) for k, r in references.items()}
            per_env.append(score(Curve(points), refs))
        return sum(per_env) / len(per_env)
    gaps = [g.difference for g in compare(candidate, references)]
    if not gaps:
        return 0.0
    shortfall = sum(min(0.0, g) for g in gaps) / len(gaps)
    gain = sum(min(max(0.0, g), 5.0) for g in gaps) / len(gaps)
    return 3 * shortfall + gain


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
