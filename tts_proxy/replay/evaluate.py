"""Evaluate a controller on replay environments: accuracy and tokens, averaged over orderings."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from tts_proxy.answers import equivalent
from tts_proxy.backends.replay import ReplayEpisode
from tts_proxy.controllers.base import Controller, Limits
from tts_proxy.engine import Search, SearchResult, run_search
from tts_proxy.replay.environment import ReplayQuestion
from tts_proxy.replay.key_cache import save_grades

DEFAULT_REPEATS = 16


@dataclass(frozen=True, slots=True)
class EpisodeResult:
    """One replayed search: which question, which ordering, what it answered and spent."""

    question: int
    repeat: int
    answer: str | None
    correct: bool
    tokens: int
    rounds: int
    stop_reason: str
    fault: str | None = None


@dataclass(frozen=True, slots=True)
class Evaluation:
    controller: str
    beta: float
    accuracy: float
    tokens_per_question: float
    questions: int
    repeats: int
    decisions: int
    seconds: float
    episodes: tuple[EpisodeResult, ...] = ()

    @property
    def faults(self) -> list[str]:
        """What the controller did wrong, per faulty episode (the engine stopped it there)."""
        return [e.fault for e in self.episodes if e.fault is not None]

    def summary(self) -> dict[str, object]:
        return {
            "controller": self.controller,
            "beta": self.beta,
            "accuracy": self.accuracy,
            "tokens_per_question": self.tokens_per_question,
            "questions": self.questions,
            "repeats": self.repeats,
            "decisions": self.decisions,
            "seconds": round(self.seconds, 3),
            "decisions_per_second": round(self.decisions / self.seconds) if self.seconds else None,
        }


def ordering(question_index: int, repeat: int, size: int, pool: int | None, seed: int) -> list[int]:
    """The seeded random ordering of recorded trajectories for one (question, repeat)."""
    rng = random.Random(f"{seed}/{question_index}/{repeat}")
    order = list(range(size))
    rng.shuffle(order)
    return order[:pool] if pool else order


def is_correct(answer: str | None, label: str | None) -> bool:
    return answer is not None and label is not None and equivalent(answer, label)


async def replay_one(
    controller_cls: type[Controller],
    question: ReplayQuestion,
    beta: float,
    limits: Limits,
    order: Sequence[int],
    *,
    seed: int = 0,
    record: bool = False,
    engine: type[Search] = Search,
) -> SearchResult:
    controller = controller_cls(beta, limits, random.Random(seed))
    episode = ReplayEpisode(question, order)
    return await run_search(controller, episode, limits, record=record, engine=engine)


def evaluate(
    controller_cls: type[Controller],
    questions: Sequence[ReplayQuestion],
    beta: float,
    *,
    limits: Limits | None = None,
    repeats: int = DEFAULT_REPEATS,
    seed: int = 0,
    pool: int | None = None,
    engine: type[Search] = Search,
) -> Evaluation:
    """Replay every question ``repeats`` times (each a different ordering) and average; by
    rounds, or with ``engine=StreamedSearch`` by the streamed engine's token clock."""
    return asyncio.run(
        _evaluate(controller_cls, questions, beta, limits, repeats, seed, pool, engine)
    )


async def _evaluate(
    controller_cls: type[Controller],
    questions: Sequence[ReplayQuestion],
    beta: float,
    limits: Limits | None,
    repeats: int,
    seed: int,
    pool: int | None,
    engine: type[Search],
) -> Evaluation:
    start = time.perf_counter()
    episodes = []
    decisions = 0
    for qi, question in enumerate(questions):
        size = len(question.branches)
        lim = limits or Limits(max_branches=min(pool or size, size))
        lim = Limits(lim.max_branches, lim.budget, question.chunk_tokens, lim.max_branch_tokens)
        for r in range(repeats):
            order = ordering(qi, r, size, pool, seed)
            result = await replay_one(controller_cls, question, beta, lim, order, seed=seed + r,
                                      engine=engine)  # fmt: skip
            decisions += result.rounds + 1
            episodes.append(
                EpisodeResult(
                    qi,
                    r,
                    result.answer,
                    is_correct(result.answer, question.label),
                    result.tokens,
                    result.rounds,
                    result.stop_reason,
                    result.fault,
                )
            )
    save_grades()
    n = len(episodes) or 1
    return Evaluation(
        controller=controller_cls.name,
        beta=beta,
        accuracy=sum(e.correct for e in episodes) / n,
        tokens_per_question=sum(e.tokens for e in episodes) / n,
        questions=len(questions),
        repeats=repeats,
        decisions=decisions,
        seconds=time.perf_counter() - start,
        episodes=tuple(episodes),
    )
