"""The engine: runs one controller against one episode, the same live and in replay.

Each round it shows the controller a view, checks the returned actions for admissibility
(no CONTINUE on a finished or pruned branch, one PROBE per depth, width and budget caps),
runs them concurrently on the episode and folds the results into the state. It stops on
ANSWER, when the budget is spent, when no branch can move, at the round limit or the
deadline, and then answers by the controller's aggregation.

A controller that raises is stopped there (``stop_reason = "controller_error"``) and the search
answers by majority vote of what exists; so does one whose aggregation raises. A branch whose
chunk fails at the backend is dropped (``failed``) and the search goes on with the others;
only when no branch is left does the error reach the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from tts_proxy.actions import Action, Answer, Branch, Continue, Probe, Prune
from tts_proxy.answers.readers import TEXT, AnswerReader
from tts_proxy.backends.base import Chunk, Episode, ProbeResult
from tts_proxy.confidence import ConfidenceMeter, token_confidence
from tts_proxy.controllers.base import Controller, Limits, majority_answer
from tts_proxy.errors import BackendError
from tts_proxy.state import BranchState, ProbeRecord, View

DEFAULT_MAX_ROUNDS = 10_000
FINISH_KEY_SECONDS = 2.0
# Tokens asked for a run-to-end extension with no length cap (replay; live always has a cap).
UNBOUNDED = 1 << 62


@dataclass(slots=True)
class SearchResult:
    """How a search ended and what it spent."""

    answer: str | None
    stop_reason: str
    branches: list[BranchState]
    rounds: int
    branch_tokens: int
    probe_tokens: int
    inadmissible: int
    answer_branch: BranchState | None = None
    answer_probe: ProbeRecord | None = None
    log: list[list[Action]] = field(default_factory=list)
    fault: str | None = None  # what the controller did wrong, when it did
    failed: int = 0  # branches lost to backend errors

    @property
    def degraded(self) -> bool:
        """The answer rests on fewer branches than the search started (some failed)."""
        return self.failed > 0

    @property
    def tokens(self) -> int:
        return self.branch_tokens + self.probe_tokens

    @property
    def probes(self) -> int:
        return sum(len(b.probes) for b in self.branches)

    @property
    def pruned(self) -> int:
        return sum(1 for b in self.branches if b.pruned)


@dataclass(frozen=True, slots=True)
class Answered:
    """A branch's final answer and its key (None until computed)."""

    answer: str
    key: str | None


def _unkeyed(results: Sequence[object]) -> Iterator[str]:
    """The answers among probe results or final answers that carry no key yet."""
    for r in results:
        if isinstance(r, ProbeResult | Answered) and r.answer is not None and r.key is None:
            yield r.answer


class _Plan:
    """One round's admissible work."""

    __slots__ = ("answer", "extend", "probe", "prune", "rejected", "then_probe", "to_end")

    def __init__(self) -> None:
        self.prune: list[BranchState] = []
        self.extend: list[tuple[BranchState, int]] = []
        self.probe: list[BranchState] = []
        self.answer: Answer | None = None
        self.rejected = 0
        self.to_end: set[int] = set()  # ids of extended branches that run to their end
        self.then_probe: set[int] = set()  # ids of extended branches probed after their chunk

    def executed(self) -> list[Action]:
        actions: list[Action] = [Prune(b.id) for b in self.prune]
        for branch, _ in self.extend:
            bid = branch.id
            to_end, probe = bid in self.to_end, bid in self.then_probe
            if branch.depth > 0:
                actions.append(Continue(bid, to_end, probe))
                continue
            last = actions[-1] if actions else None
            if isinstance(last, Branch) and (last.to_end, last.probe) == (to_end, probe):
                actions[-1] = Branch(last.n + 1, to_end, probe)
            else:
                actions.append(Branch(1, to_end, probe))
        actions += [Probe(b.id) for b in self.probe]
        return actions

    def __bool__(self) -> bool:
        return bool(self.prune or self.extend or self.probe)


class Search:
    """One search: the state, the controller and the rules between them."""

    def __init__(
        self,
        controller: Controller,
        episode: Episode,
        limits: Limits,
        *,
        max_rounds: int = DEFAULT_MAX_ROUNDS,
        record: bool = False,
        deadline: float | None = None,
        reader: AnswerReader = TEXT,
    ) -> None:
        self.controller = controller
        self.reader = reader
        self.deadline = deadline  # time.monotonic() value after which the search stops
        self.episode = episode
        self.limits = limits
        self.max_rounds = max_rounds
        self.record = record
        cap = limits.max_branches
        if episode.max_branches is not None:
            cap = min(cap, episode.max_branches)
        self.max_branches = cap
        self.branches: list[BranchState] = []
        self.round = 0
        self.branch_tokens = 0
        self.probe_tokens = 0
        self.rejected = 0
        self.log: list[list[Action]] = []
        self.fault: str | None = None
        self.failed = 0
        self.last_error: BackendError | None = None

    @property
    def tokens(self) -> int:
        return self.branch_tokens + self.probe_tokens

    def view(self) -> View:
        return View(self.branches, self.round, self.tokens, self.limits.budget, self.max_branches)

    async def run(self) -> SearchResult:
        try:
            return await self._rounds()
        finally:
            with contextlib.suppress(Exception):  # a controller's clean-up cannot fail a search
                await self.controller.finish()

    async def _rounds(self) -> SearchResult:
        budget = self.limits.budget
        while True:
            if budget is not None and self.tokens >= budget:
                return await self._finish("budget", None)
            if self.round >= self.max_rounds:
                return await self._finish("round_limit", None)
            if self.deadline is not None and time.monotonic() >= self.deadline:
                return await self._finish("time_limit", None)
            try:
                actions = await self.controller.adecide(self.view())
            except Exception as exc:  # a controller's bug must not take the request down
                self.fault = f"decide raised {type(exc).__name__}: {exc}"[:300]
                return await self._finish("controller_error", None)
            plan = self._plan(actions)
            self.rejected += plan.rejected
            if plan.answer is not None:
                return await self._finish("answer", plan.answer.answer)
            if not plan:
                done = all(not b.active for b in self.branches) and self.branches
                return await self._finish("exhausted" if done else "no_progress", None)
            if self.record:
                self.log.append(plan.executed())
            if self.deadline is None:
                await self._execute(plan)
            else:
                try:
                    await asyncio.wait_for(self._execute(plan), self.deadline - time.monotonic())
                except TimeoutError:  # the round's requests are cancelled with it
                    return await self._finish("time_limit", None)
            if self.last_error is not None and not any(
                b.active or b.finished for b in self.branches
            ):  # every branch failed: nothing to answer from
                raise self.last_error
            self.round += 1

    def _plan(self, actions: Sequence[Action]) -> _Plan:
        plan = _Plan()
        by_id = self.branches
        size = len(by_id)
        continuing: dict[int, Continue] = {}
        probing: set[int] = set()
        new: list[Branch] = []
        for action in actions:
            kind = type(action)
            if kind is Continue or kind is Probe or kind is Prune:
                bid = action.branch  # type: ignore[union-attr]
                branch = by_id[bid] if 0 <= bid < size else None
                if branch is None or not branch.active:
                    plan.rejected += 1
                elif kind is Continue:
                    if bid in continuing:
                        plan.rejected += 1
                    else:
                        continuing[bid] = action  # type: ignore[assignment]
                elif kind is Probe:
                    if branch.depth == 0 or branch.probed_at_depth or bid in probing:
                        plan.rejected += 1
                    else:
                        probing.add(bid)
                        plan.probe.append(branch)
                else:
                    plan.prune.append(branch)
            elif kind is Branch:
                if action.n > 0:  # type: ignore[union-attr]
                    new.append(action)  # type: ignore[arg-type]
            elif kind is Answer:
                plan.answer = action  # type: ignore[assignment]
                return plan
            else:
                plan.rejected += 1
        pruned = {b.id for b in plan.prune} if plan.prune else ()
        # Continuations first: when the budget cannot fit everything, new branches wait.
        for bid, cont in continuing.items():
            if bid in pruned:
                plan.rejected += 1
            else:
                self._add_extension(plan, by_id[bid], cont.to_end, cont.probe)
        room = self.max_branches - len(self.branches)
        for request in new:
            take = min(request.n, room)
            plan.rejected += request.n - take
            room -= take
            for _ in range(take):
                branch = BranchState(id=len(self.branches))
                self.branches.append(branch)
                self._add_extension(plan, branch, request.to_end, request.probe)
        if pruned and plan.probe:
            plan.probe = [b for b in plan.probe if b.id not in pruned]
        self._fit_budget(plan)
        return plan

    def _add_extension(self, plan: _Plan, branch: BranchState, to_end: bool, probe: bool) -> None:
        plan.extend.append((branch, self._chunk_for(branch, to_end)))
        if to_end:
            plan.to_end.add(branch.id)
        if probe:
            plan.then_probe.add(branch.id)

    def _chunk_for(self, branch: BranchState, to_end: bool = False) -> int:
        cap = self.limits.max_branch_tokens
        if to_end:
            return UNBOUNDED if cap is None else max(1, cap - branch.tokens)
        chunk = self.limits.chunk_tokens
        return chunk if cap is None else max(1, min(chunk, cap - branch.tokens))

    def _fit_budget(self, plan: _Plan) -> None:
        """Give each extension at most what is left of the budget; drop those that get none."""
        if self.limits.budget is None:
            return
        left = self.limits.budget - self.tokens
        kept: list[tuple[BranchState, int]] = []
        dropped: list[BranchState] = []
        for branch, n in plan.extend:
            if left <= 0:
                dropped.append(branch)
                continue
            take = min(n, left)
            kept.append((branch, take))
            left -= take
        plan.extend = kept
        plan.rejected += len(dropped)
        # A new branch that got no chunk was never started (new ones are at the tail).
        for branch in reversed(dropped):
            if branch.depth == 0 and self.branches and branch is self.branches[-1]:
                self.branches.pop()

    async def _execute(self, plan: _Plan) -> None:
        ep = self.episode
        for branch in plan.prune:
            branch.pruned = True
            branch.active = False
        if plan.prune:
            await ep.release(plan.prune)
        if plan.extend and plan.probe:
            chunks, probes = await asyncio.gather(ep.extend(plan.extend), ep.probe(plan.probe))
        elif plan.extend:
            chunks, probes = await ep.extend(plan.extend), ()
        else:
            chunks, probes = (), await ep.probe(plan.probe)
        extended = [branch for branch, _ in plan.extend]
        finals = [self._final_answer(b, c) for b, c in zip(extended, chunks, strict=True)]
        keys = await self._keys([*_unkeyed(probes), *_unkeyed(finals)])
        for branch, result in zip(plan.probe, probes, strict=True):
            self._apply_probe(branch, result, keys)
        for branch, chunk, final in zip(extended, chunks, finals, strict=True):
            self._apply_chunk(branch, chunk, final, keys)
        if plan.then_probe:
            after = [b for b in extended if b.id in plan.then_probe and b.active]
            if after:
                results = await ep.probe(after)
                keys = await self._keys(list(_unkeyed(results)))
                for branch, result in zip(after, results, strict=True):
                    self._apply_probe(branch, result, keys)

    async def _keys(self, answers: Sequence[str]) -> dict[str, str]:
        """Keys of answers the backend did not key, computed off the event loop."""
        if not answers:
            return {}
        return dict(zip(answers, await self.reader.keys(answers), strict=True))

    def _final_answer(self, branch: BranchState, chunk: Chunk | BackendError) -> Answered | None:
        """The answer a chunk's branch ends with, when the chunk ends it."""
        if isinstance(chunk, BackendError):
            return None
        cap = self.limits.max_branch_tokens
        if not (chunk.finished or (cap is not None and branch.tokens + chunk.tokens >= cap)):
            return None
        if chunk.answer is not None:
            return Answered(chunk.answer, chunk.key)
        answer = self.reader.extract(branch.text + chunk.text)
        return None if answer is None else Answered(answer, None)

    def _fail(self, branch: BranchState, error: BackendError) -> None:
        """A branch the backend could not serve: dropped, the search goes on without it."""
        branch.pruned = True
        branch.active = False
        branch.finish_reason = "error"
        self.failed += 1
        self.last_error = error

    def _apply_probe(
        self, branch: BranchState, result: ProbeResult | BackendError, keys: dict[str, str]
    ) -> None:
        if isinstance(result, BackendError):
            self._fail(branch, result)
            return
        self.probe_tokens += result.tokens
        answer = result.answer
        key = result.key if result.key is not None or answer is None else keys[answer]
        branch.probes.append(
            ProbeRecord(branch.depth, answer, key, result.tokens, result.confidence, result.text)
        )

    def _apply_chunk(
        self,
        branch: BranchState,
        chunk: Chunk | BackendError,
        final: Answered | None,
        keys: dict[str, str],
    ) -> None:
        if isinstance(chunk, BackendError):
            self._fail(branch, chunk)
            return
        self.branch_tokens += chunk.tokens
        branch.tokens += chunk.tokens
        branch.depth += chunk.steps
        branch.chunks.append(chunk.tokens)
        if chunk.text:
            branch.text += chunk.text
        if chunk.logprobs:
            branch.logprobs.extend(chunk.logprobs)
        self._measure(branch, chunk)
        cap = self.limits.max_branch_tokens
        finished, reason = chunk.finished, chunk.finish_reason
        if not finished and cap is not None and branch.tokens >= cap:
            finished, reason = True, "length"
        if finished:
            branch.finished = True
            branch.active = False
            branch.finish_reason = reason
            if final is not None:
                branch.answer = final.answer
                branch.key = final.key if final.key is not None else keys[final.answer]

    @staticmethod
    def _measure(branch: BranchState, chunk: Chunk) -> None:
        """The branch's token confidence after this chunk: as recorded, or from its
        logprobs (when there are none, the branch has no confidence signal)."""
        signals = chunk.confidence
        if signals is None and chunk.logprobs:
            if branch.meter is None:
                branch.meter = ConfidenceMeter()
            branch.meter.add(token_confidence(lp) for lp in chunk.logprobs)
            signals = branch.meter.signals()
        if signals is not None:
            branch.confidence = signals
            branch.confidences.append(signals)

    async def _finish(self, reason: str, explicit: str | None) -> SearchResult:
        answer = explicit
        if answer is None:
            try:
                answer = await self.controller.aaggregate(self.view())
            except Exception as exc:
                self.fault = self.fault or f"aggregate raised {type(exc).__name__}: {exc}"[:300]
                answer = majority_answer(self.view())
        result = SearchResult(
            answer=answer,
            stop_reason=reason,
            branches=self.branches,
            rounds=self.round,
            branch_tokens=self.branch_tokens,
            probe_tokens=self.probe_tokens,
            inadmissible=self.rejected,
            log=self.log,
            fault=self.fault,
            failed=self.failed,
        )
        key = None if answer is None else await self._key_of(answer)
        result.answer_branch, result.answer_probe = self._witness(key)
        return result

    async def _key_of(self, answer: str) -> str:
        """An answer's key: as recorded where the state holds it, else computed (a search
        that is ending waits for that at most ``FINISH_KEY_SECONDS``: then the text is it)."""
        for b in self.branches:
            if b.answer == answer and b.key is not None:
                return b.key
            for p in b.probes:
                if p.answer == answer and p.key is not None:
                    return p.key
        try:
            async with asyncio.timeout(FINISH_KEY_SECONDS):
                return (await self._keys([answer]))[answer]
        except TimeoutError:
            return answer

    def _witness(self, key: str | None) -> tuple[BranchState | None, ProbeRecord | None]:
        """The branch whose text carries the answer: a finished one, else one a probe read."""
        if not self.branches:
            return None, None
        longest = max(self.branches, key=lambda b: (b.finished, b.tokens))
        if key is None:
            return longest, None
        for b in self.branches:
            if b.finished and b.key == key:
                return b, None
        for b in sorted(self.branches, key=lambda b: -b.depth):
            for p in reversed(b.probes):
                if p.key == key:
                    return b, p
        return longest, None


async def run_search(
    controller: Controller,
    episode: Episode,
    limits: Limits,
    *,
    max_rounds: int = DEFAULT_MAX_ROUNDS,
    record: bool = False,
    deadline: float | None = None,
    reader: AnswerReader = TEXT,
) -> SearchResult:
    """Run ``controller`` on ``episode`` under ``limits`` until it answers or must stop."""
    search = Search(controller, episode, limits, max_rounds=max_rounds, record=record,
                    deadline=deadline, reader=reader)  # fmt: skip
    return await search.run()
