"""A planning environment from a workflow's explorations (``tts-proxy collect --workflow``).

Each stage was explored at the full width on every model, once per upstream answer. For a
plan -- a model and k samples per stage -- each ordering of a question is composed again,
stage by stage: self-consistency at k over that exploration's recorded branches (the one
engine, replaying) gives the stage's answer, which picks the next stage's exploration (the
one given that answer; an answer it was never explored with scores the stage as a failure,
counted in the environment's source). The score is the last stage's correctness against
the gold answer; each stage costs 2 x parameters x its tokens (prompt and generated, as the
live proxy counts them).
"""

from __future__ import annotations

import asyncio
import itertools
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tts_proxy.answers import answer_key
from tts_proxy.controllers.base import Limits
from tts_proxy.controllers.sc import SelfConsistency
from tts_proxy.errors import PlanError
from tts_proxy.replay.environment import ReplayQuestion
from tts_proxy.replay.evaluate import is_correct, ordering, replay_one
from tts_proxy.replay.key_cache import prime_answer_keys
from tts_proxy.traces import (
    question_from_record,
    read_records,
    trace_files,
)
from tts_proxy.workflows.definition import WorkflowSpec
from tts_proxy.workflows.environment import Cell, Choice, StageOutcome, WorkflowEnvironment
from tts_proxy.workflows.explore import NO_ANSWER, Exploration
from tts_proxy.workflows.flops import flops


@dataclass(frozen=True, slots=True)
class _Explored:
    question: ReplayQuestion
    upstream_key: str | None
    prompt_tokens: int


@dataclass(frozen=True, slots=True)
class _Run:
    """A stage in one ordering: its answer (text and key) and the tokens it processed."""

    answer: str | None
    key: str | None
    tokens: int


def _explorations(
    log: Sequence[Exploration], traces: Path
) -> dict[tuple[int, str, str], list[_Explored]]:
    records = {str(r.get("request_id")): r for r in read_records(trace_files(traces))}
    missing = [e.request_id for e in log if e.request_id not in records]
    if missing:
        raise PlanError(f"{len(missing)} explored requests are not in {traces} (first: "
                        f"{missing[0]}): give --traces the proxy's trace directory")  # fmt: skip
    questions = prime_answer_keys(  # graded against the gold the log kept
        [question_from_record(records[e.request_id], {"answer": e.gold}) for e in log], source=""
    )
    out: dict[tuple[int, str, str], list[_Explored]] = {}
    for e, q in zip(log, questions, strict=True):
        upstream = None if e.upstream is None else answer_key(e.upstream)
        prompt = int((records[e.request_id].get("usage") or {}).get("prompt_tokens", 0))
        out.setdefault((e.index, e.stage, e.model), []).append(_Explored(q, upstream, prompt))
    return out


class _Composer:
    """Replays one stage in one ordering, memoised per (exploration, k, ordering).

    A stage given an answer its upstream was never explored with cannot be known: it is
    scored as a failure (no answer), at the cost of an explored run -- pessimistic, where
    taking another answer's exploration would be optimistic."""

    def __init__(self, explored: dict[tuple[int, str, str], list[_Explored]]):
        self.explored = explored
        self.approximate = 0
        self._memo: dict[tuple[int, str, str, str | None, int, int], _Run] = {}

    def _pick(
        self, index: int, stage: str, model: str, upstream: str | None
    ) -> tuple[_Explored, bool]:
        options = self.explored[(index, stage, model)]
        key = upstream if upstream is not None else answer_key(NO_ANSWER)
        for o in options:
            if o.upstream_key is None or o.upstream_key == key:
                return o, True
        return options[0], False

    async def stage(self, index: int, stage: str, choice: Choice, upstream: str | None,
                    repeat: int) -> _Run:  # fmt: skip
        picked, known = self._pick(index, stage, choice.model, upstream)
        memo = (index, stage, choice.model, picked.upstream_key, choice.samples, repeat)
        if memo not in self._memo:
            q = picked.question
            limits = Limits(max_branches=min(choice.samples, len(q.branches)),
                            chunk_tokens=q.chunk_tokens)  # fmt: skip
            seed = zlib.crc32(stage.encode())  # stages draw apart, the same in every process
            order = ordering(index, repeat, len(q.branches), None, seed=seed)
            result = await replay_one(SelfConsistency, q, 1.0, limits, order)
            key = None if result.answer is None else answer_key(result.answer)
            self._memo[memo] = _Run(result.answer, key, picked.prompt_tokens + result.tokens)
        run = self._memo[memo]
        if known:
            return run
        self.approximate += 1
        return _Run(None, None, run.tokens)

    def label(self, index: int, stage: str, model: str) -> str | None:
        return self.explored[(index, stage, model)][0].question.label


async def _compose(composer: _Composer, spec: WorkflowSpec, options: list[list[Choice]],
                   indices: Sequence[int], repeats: int,
                   sizes: Mapping[str, float]) -> list[Cell]:  # fmt: skip
    """Every plan prefix's cells: for each question and ordering, the stages replayed in
    order, each given the answer the one before gave."""
    stages = [s.name for s in spec.stages]
    cells = []
    for depth in range(1, len(stages) + 1):
        for prefix in itertools.product(*options[:depth]):
            outcomes = []
            for index in indices:
                scores, tokens = [], []
                for r in range(repeats):
                    upstream: str | None = None
                    for t, choice in enumerate(prefix):
                        run = await composer.stage(index, stages[t], choice, upstream, r)
                        upstream = run.key
                    gold = composer.label(index, stages[depth - 1], prefix[-1].model)
                    scores.append(float(is_correct(run.answer, gold)))
                    tokens.append(run.tokens)
                mean_tokens = sum(tokens) / len(tokens)
                outcomes.append(StageOutcome(
                    question=f"q{index}", score=sum(scores) / len(scores), tokens=mean_tokens,
                    flops=flops(sizes[prefix[-1].model], mean_tokens),
                ))  # fmt: skip
            cells.append(Cell(stage=stages[depth - 1], choice=prefix[-1],
                              upstream=dict(zip(stages, prefix[:-1], strict=False)),
                              outcomes=outcomes))  # fmt: skip
    return cells


def _complete(spec: WorkflowSpec, log: Sequence[Exploration]) -> list[int]:
    """Questions explored on every model of every stage (an interrupted run leaves some
    half done: they are left out)."""
    have = {(e.index, e.stage, e.model) for e in log}
    wanted = [(s.name, m) for s in spec.stages for m in s.models]
    return sorted(i for i in {e.index for e in log} if all((i, s, m) in have for s, m in wanted))


def from_explorations(spec: WorkflowSpec, log: Sequence[Exploration], traces: Path,
                      parameters: Mapping[str, float], *, samples: Sequence[int] | None = None,
                      repeats: int = 8) -> WorkflowEnvironment:  # fmt: skip
    """The environment of a workflow's explorations (samples: powers of two up to the
    exploration width unless given)."""
    models = {m for s in spec.stages for m in s.models}
    unsized = sorted(models - set(parameters))
    if unsized:
        raise PlanError(f"no parameter count for {', '.join(unsized)} (give --parameters)")
    if not log:
        raise PlanError("the exploration log is empty")
    ks = list(samples or [k for k in (1, 2, 4, 8, 16, 32, 64) if k <= spec.width])
    indices = _complete(spec, log)
    if not indices:
        raise PlanError("no question was explored on every model of every stage")
    composer = _Composer(_explorations([e for e in log if e.index in set(indices)], traces))
    options = [[Choice(model=m, samples=k) for m in s.models for k in ks] for s in spec.stages]
    cells = asyncio.run(_compose(composer, spec, options, indices, repeats, parameters))
    skipped = len({e.index for e in log}) - len(indices)
    return WorkflowEnvironment(
        workflow=spec.workflow, stages=[s.name for s in spec.stages], combine="last",
        parameters=dict(parameters), cells=cells,
        source=f"explorations of {spec.workflow} ({len(indices)} questions, {skipped} left "
               f"out half explored; width {spec.width}, {repeats} orderings; "
               f"{composer.approximate} stage runs given an unexplored upstream answer, "
               "scored as failures)",
        regularities={
            "preferred_model": "exercised where the stages' candidate models differ",
            "saturation": "exercised up to the exploration width",
            "interaction": "exercised: a stage's input is the answer its upstream gave",
        },
    )  # fmt: skip
