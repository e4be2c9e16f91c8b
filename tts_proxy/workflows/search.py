"""Plan searches under a FLOPs budget: random, Bayesian optimisation (optuna's TPE) and the
insight-guided search. Each measures plans through one ``Oracle``, which counts every
distinct plan it measures as a trial -- the cost AgentTTS compares methods by.
"""

from __future__ import annotations

import contextlib
import itertools
import random
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import ClassVar, Protocol

import optuna

from tts_proxy.workflows.environment import Allocation, Choice, Table

ENUMERABLE = 200_000  # plans; larger spaces are not listed whole


@dataclass(frozen=True, slots=True)
class Trial:
    """One measured plan: its score, its cost, and whether the cost is within the budget."""

    plan: Allocation
    score: float
    flops: float
    stage_flops: tuple[float, ...]
    feasible: bool


class Exhausted(Exception):
    """The oracle's trial allowance is spent."""


class Oracle:
    """Measures plans on ``questions`` of ``table`` under ``budget``; repeats are free. It
    is spent after ``max_trials`` plans, or once a feasible plan scores ``stop_score``."""

    def __init__(
        self,
        table: Table,
        budget: float,
        *,
        questions: Collection[str] | None = None,
        max_trials: int | None = None,
        stop_score: float | None = None,
    ) -> None:
        self.table = table
        self.budget = budget
        self.questions = list(questions) if questions is not None else None
        self.max_trials = max_trials
        self.stop_score = stop_score
        self.archive: list[Trial] = []
        self._seen: dict[Allocation, Trial] = {}
        self._reached = False

    @property
    def spent(self) -> bool:
        full = self.max_trials is not None and len(self.archive) >= self.max_trials
        return full or self._reached or len(self.archive) >= self.table.size()

    def tried(self, plan: Allocation) -> bool:
        return plan in self._seen

    def __call__(self, plan: Allocation) -> Trial:
        if plan in self._seen:
            return self._seen[plan]
        if self.spent:
            raise Exhausted
        m = self.table.measure(plan, self.questions)
        if m is None:
            trial = Trial(plan, 0.0, float("inf"), (), False)
        else:
            trial = Trial(plan, m.score, m.flops, m.stage_flops, m.flops <= self.budget)
        self._seen[plan] = trial
        self.archive.append(trial)
        if self.stop_score is not None and trial.feasible and trial.score >= self.stop_score:
            self._reached = True
        return trial

    def best(self) -> Trial | None:
        feasible = [t for t in self.archive if t.feasible]
        return max(feasible, key=lambda t: (t.score, -t.flops)) if feasible else None


class PlanSearch(Protocol):
    """One search method: measures plans through ``oracle`` until done or exhausted."""

    name: ClassVar[str]

    def search(self, oracle: Oracle, rng: random.Random) -> None: ...


def run_search(method: PlanSearch, oracle: Oracle, rng: random.Random) -> Trial | None:
    """Run ``method`` until it ends or spends the oracle's allowance; the best plan found."""
    with contextlib.suppress(Exhausted):
        method.search(oracle, rng)
    return oracle.best()


class RandomSearch:
    """Plans drawn uniformly without replacement."""

    name: ClassVar[str] = "random"

    def search(self, oracle: Oracle, rng: random.Random) -> None:
        space = oracle.table.space()
        size = oracle.table.size()
        # A shuffled list of every plan where that is small; draws with rejection beyond.
        indices = rng.sample(range(size), size) if size <= ENUMERABLE else _draws(rng, size)
        for index in indices:
            if oracle.spent:
                return
            plan = []
            for options in reversed(space):  # the index in mixed radix: one digit per stage
                index, digit = divmod(index, len(options))
                plan.append(options[digit])
            oracle(tuple(reversed(plan)))


def _draws(rng: random.Random, size: int) -> Iterator[int]:
    seen: set[int] = set()
    while len(seen) < size:
        index = rng.randrange(size)
        if index not in seen:
            seen.add(index)
            yield index


class TPESearch:
    """Bayesian optimisation: optuna's TPE over one categorical per stage, the budget as a
    constraint (over-budget plans are measured, and marked infeasible)."""

    name: ClassVar[str] = "tpe"
    REPEAT_ALLOWANCE = 20  # TPE re-suggests measured plans; give up past this many per trial

    def search(self, oracle: Oracle, rng: random.Random) -> None:
        space = oracle.table.space()
        stages = oracle.table.stages
        sampler = optuna.samplers.TPESampler(seed=rng.randrange(2**31))
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        size = oracle.table.size()

        def objective(trial: optuna.Trial) -> float:
            plan = tuple(
                options[trial.suggest_categorical(stage, list(range(len(options))))]
                for stage, options in zip(stages, space, strict=True)
            )
            measured = oracle(plan)
            trial.set_constraint("budget", measured.flops - oracle.budget)
            return measured.score

        calls = 0
        # One new plan at most per optimize call: checking first keeps Exhausted out of
        # optuna (which would log it as a failed trial).
        while not oracle.spent and calls < self.REPEAT_ALLOWANCE * size:
            study.optimize(objective, n_trials=1)
            calls += 1


class InsightSearch:
    """AgentTTS's three regularities as a search procedure, without a language model:

    1. *Each stage has its own preferred model*: stage by stage, upstream first, each model
       is tried at the most samples a fair share of the budget buys.
    2. *Returns saturate*: budget is then moved between stages (fewer samples where they
       saturated, more where they still pay), one move at a time while it helps.
    3. *Stages interact*: a stage is re-chosen after those before it change (moves are
       tried again from every new best plan).

    Costs of untried plans are estimated from measured ones (FLOPs per sample per stage and
    model; an unmeasured model scaled by its parameter count), with the error the estimates
    have shown so far as their tolerance. When no move helps, the remaining plans are
    measured nearest-first, so with trials enough (and a space of at most ``ENUMERABLE``
    plans) the search ends at the optimum.
    """

    name: ClassVar[str] = "insight"

    def search(self, oracle: Oracle, rng: random.Random) -> None:
        walk = InsightWalk(oracle, rng)
        walk.prefer_models()
        walk.move_budget()
        for plan in walk.rest():
            oracle(plan)


class InsightWalk:
    """The insight search's state: the best plan so far and cost estimates."""

    def __init__(self, oracle: Oracle, rng: random.Random) -> None:
        self.oracle = oracle
        self.rng = rng
        self.table = oracle.table
        self.space = self.table.space()
        self.sizes = self.table.env.parameters
        self._rates: dict[tuple[int, str], float] = {}
        self._spread = 1.0
        self._rates_at = -1
        cheapest = tuple(min(o, key=lambda c: (self._size(c.model), c.samples)) for o in self.space)
        self.best = oracle(cheapest)

    def _size(self, model: str) -> float:
        return self.sizes.get(model, 1.0)

    def _per_sample(self, stage: int, model: str) -> float:
        """Estimated FLOPs per sample of ``model`` at ``stage``, from measured plans (another
        model's rate scaled by parameters where this one was not measured yet)."""
        if self._rates_at != len(self.oracle.archive):
            self._rates_at = len(self.oracle.archive)
            sums: dict[tuple[int, str], list[float]] = {}
            for t in self.oracle.archive:
                for i, c in enumerate(t.plan if t.stage_flops else ()):
                    rate = t.stage_flops[i] / c.samples / self._size(c.model)
                    sums.setdefault((i, c.model), []).append(rate)
            self._rates = {k: sum(v) / len(v) for k, v in sums.items()}
            # How far the rates measured for one stage and model disagree: the error a
            # per-sample estimate has shown (1: costs were exactly proportional to samples).
            self._spread = max((max(v) / min(v) for v in sums.values() if min(v) > 0),
                               default=1.0)  # fmt: skip
        if (stage, model) in self._rates:
            return self._rates[(stage, model)] * self._size(model)
        known = [r for (i, _), r in self._rates.items() if i == stage]
        return (sum(known) / len(known) if known else 0.0) * self._size(model)

    def cost(self, plan: Allocation) -> float:
        return sum(self._per_sample(i, c.model) * c.samples for i, c in enumerate(plan))

    def may_fit(self, plan: Allocation) -> bool:
        """Whether the plan may be within the budget, given the estimates' observed error."""
        estimate = self.cost(plan)  # refreshes the spread first
        return estimate <= self.oracle.budget * self._spread

    def _try(self, plan: Allocation) -> bool:
        """Measure ``plan``; True (and it becomes the best) if it beats the best."""
        trial = self.oracle(plan)
        if not trial.feasible:
            return False
        if self.best.feasible and (trial.score, -trial.flops) <= (
            self.best.score,
            -self.best.flops,
        ):
            return False
        self.best = trial
        return True

    def _fill(self, plan: Allocation, stage: int, model: str, room: float) -> Allocation:
        """``plan`` with ``stage`` on ``model`` at the most samples ``room`` FLOPs buy (the
        fewest recorded when none fits)."""
        levels = sorted(c.samples for c in self.space[stage] if c.model == model)
        rate = self._per_sample(stage, model)
        fits = [k for k in levels if rate * k <= room] or levels[:1]
        out = list(plan)
        out[stage] = Choice(model=model, samples=max(fits))
        return tuple(out)

    def _room(self, plan: Allocation, stage: int) -> float:
        others = sum(self._per_sample(i, c.model) * c.samples
                     for i, c in enumerate(plan) if i != stage)  # fmt: skip
        return self.oracle.budget - others

    def prefer_models(self) -> None:
        """Regularity 1: each stage's model at equal compute, upstream stages first."""
        n = len(self.space)
        for stage in range(n):
            room = self._room(self.best.plan, stage)
            later = sum(self._per_sample(i, c.model) * c.samples
                        for i, c in enumerate(self.best.plan) if i > stage)  # fmt: skip
            share = (room + later) / (n - stage) if stage < n - 1 else room
            models = sorted({c.model for c in self.space[stage]})
            self.rng.shuffle(models)  # ties go nowhere in particular
            base = self.best.plan
            for model in models:
                self._try(self._fill(base, stage, model, share))

    def _moves(self) -> Iterator[Allocation]:
        """Plans one step from the best: a stage's model changed (refilled to the budget),
        a stage given more samples, or a level taken from one stage and given to another."""
        plan, n = self.best.plan, len(self.space)
        for stage in range(n):
            for model in sorted({c.model for c in self.space[stage]}):
                yield self._fill(plan, stage, model, self._room(plan, stage))
        for giver, taker in itertools.permutations(range(n), 2):
            less = self._step(plan, giver, -1)
            if less is not None:
                yield self._fill(less, taker, less[taker].model, self._room(less, taker))
        for stage in range(n):
            for direction in (1, -1):
                step = self._step(plan, stage, direction)
                if step is not None:
                    yield step

    def _step(self, plan: Allocation, stage: int, direction: int) -> Allocation | None:
        c = plan[stage]
        levels = sorted(o.samples for o in self.space[stage] if o.model == c.model)
        i = levels.index(c.samples) + direction
        if not 0 <= i < len(levels):
            return None
        out = list(plan)
        out[stage] = Choice(model=c.model, samples=levels[i])
        return tuple(out)

    def move_budget(self) -> None:
        """Regularities 2 and 3: take the first move that helps, from each new best plan."""
        improved = True
        while improved:
            improved = False
            for plan in self._moves():
                fresh = not self.oracle.tried(plan) and self.may_fit(plan)
                if fresh and self._try(plan):
                    improved = True
                    break

    def rest(self) -> list[Allocation]:
        """Every plan not measured yet: those that may fit the budget first, each group
        nearest the best first (fewest stages changed), then dearest first. None beyond
        ``ENUMERABLE`` plans: the search then ends where its moves did."""
        if self.table.size() > ENUMERABLE:
            return []
        best = self.best.plan
        plans = [p for p in itertools.product(*self.space) if not self.oracle.tried(p)]

        def order(p: Allocation) -> tuple[bool, int, float]:
            differ = sum(a != b for a, b in zip(p, best, strict=True))
            return (not self.may_fit(p), differ, -self.cost(p))

        return sorted(plans, key=order)


METHODS: dict[str, type[PlanSearch]] = {m.name: m for m in (RandomSearch, TPESearch, InsightSearch)}
