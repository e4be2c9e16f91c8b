"""The streamed engine: the same controllers and rules as the round engine, no round barrier.

Every branch advances on its own (``tts_proxy.streams``). The controller is asked again as
soon as something arrives -- a branch reaching its next chunk boundary or its end, or a probe
coming back -- and it is shown every such event that arrived together (live: all that are
queued when the engine wakes; replay: all at the same tick of the token clock). Branches may
be at different depths. In that decision:

- a branch under way (its chunk in flight, or its probe) is left to go on: CONTINUE or PROBE
  of it changes nothing; PRUNE aborts its stream at once;
- a branch at a boundary that the controller neither continues nor prunes is paused: its
  stream is aborted, and a later CONTINUE resumes it from its token ids;
- ANSWER aborts every stream.

Tokens an aborted stream generated past its last boundary are counted as spent
(``discarded_tokens``). Budget: a chunk set going is reserved until its step arrives, so the
tokens used plus those reserved never exceed the budget.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from tts_proxy.backends.base import Chunk, Probed, ProbeResult, Step, Streams
from tts_proxy.engine import (
    UNBOUNDED,
    Answered,
    Search,
    SearchResult,
    _Plan,
    _unkeyed,
)
from tts_proxy.state import BranchState
from tts_proxy.streams import open_streams


class StreamedSearch(Search):
    """One search whose branches stream; see the module's docstring for the rules."""

    probing: set[int]

    async def _rounds(self) -> SearchResult:
        streams = open_streams(self.episode)
        self.probing = set()
        try:
            return await self._streamed(streams)
        finally:
            self._spend(await streams.close())

    def _spend(self, tokens: int) -> None:
        self.branch_tokens += tokens
        self.discarded += tokens

    async def _end(self, streams: Streams, reason: str, answer: str | None) -> SearchResult:
        self._spend(await streams.close())
        return await self._finish(reason, answer)

    async def _streamed(self, streams: Streams) -> SearchResult:
        budget = self.limits.budget
        fresh: set[int] = set()  # branches that reached a boundary since the last decision
        while True:
            if budget is not None and self.tokens >= budget:
                return await self._end(streams, "budget", None)
            if self.round >= self.max_rounds:
                return await self._end(streams, "round_limit", None)
            if self.deadline is not None and time.monotonic() >= self.deadline:
                return await self._end(streams, "time_limit", None)
            try:
                actions = await self.controller.adecide(self.view())
            except Exception as exc:  # a controller's bug must not take the request down
                self.fault = f"decide raised {type(exc).__name__}: {exc}"[:300]
                return await self._end(streams, "controller_error", None)
            plan = self._plan(actions)
            self.rejected += plan.rejected
            if plan.answer is not None:
                return await self._end(streams, "answer", plan.answer.answer)
            if not plan and not self._under_way:
                done = all(not b.active for b in self.branches) and self.branches
                return await self._end(streams, "exhausted" if done else "no_progress", None)
            if plan and self.record:
                self.log.append(plan.executed())
            await self._launch(plan, streams, fresh)
            self.round += 1
            if not self._under_way:
                fresh = set()
                continue  # the decision only pruned: ask again
            events = await self._next(streams)
            if events is None:
                return await self._end(streams, "time_limit", None)
            fresh = await self._fold(events)
            if self.last_error is not None and not any(
                b.active or b.finished for b in self.branches
            ):  # every branch failed: nothing to answer from
                raise self.last_error

    @property
    def _under_way(self) -> bool:
        return bool(self.busy or self.probing)

    async def _launch(self, plan: _Plan, streams: Streams, fresh: set[int]) -> None:
        for branch in plan.prune:
            branch.pruned = True
            branch.active = False
            self._spend(streams.stop(branch))
            self.busy.pop(branch.id, None)
            self.probing.discard(branch.id)
        if plan.prune:
            await self.episode.release(plan.prune)
        cap = self.limits.max_branch_tokens
        for branch, tokens in plan.extend:
            limit = UNBOUNDED if cap is None else cap - branch.tokens
            streams.advance(branch, tokens, limit, probe=branch.id in plan.then_probe)
            self.busy[branch.id] = tokens
        for branch in plan.probe:
            streams.probe(branch)
            self.probing.add(branch.id)
        for bid in fresh:
            branch = self.branches[bid]
            if branch.active and bid not in self.busy:
                self._spend(streams.pause(branch))

    async def _next(self, streams: Streams) -> list[Step | Probed] | None:
        """The next events, or None when the deadline passes first."""
        if self.deadline is None:
            return await streams.events()
        try:
            return await asyncio.wait_for(streams.events(), self.deadline - time.monotonic())
        except TimeoutError:
            return None

    async def _fold(self, events: Sequence[Step | Probed]) -> set[int]:
        """Fold arrived events into the state; the branches now at a boundary."""
        steps: list[tuple[Step, Answered | None]] = []
        probes: list[Probed] = []
        for event in events:
            bid = event.branch.id
            if isinstance(event, Step):
                if self.busy.pop(bid, None) is None:  # stopped while its step was queued
                    self._spend(_tokens(event.chunk) + _tokens(event.probe))
                    continue
                steps.append((event, self._final_answer(event.branch, event.chunk)))
            elif bid in self.probing:
                self.probing.discard(bid)
                probes.append(event)
            else:
                self.probe_tokens += _tokens(event.result)
        keys = await self._keys(
            [
                *_unkeyed([p.result for p in probes]),
                *_unkeyed([s.probe for s, _ in steps]),
                *_unkeyed([final for _, final in steps]),
            ]
        )
        for probed in probes:
            if probed.branch.active:
                self._apply_probe(probed.branch, probed.result, keys)
        fresh: set[int] = set()
        for step, final in steps:
            branch: BranchState = step.branch
            self._apply_chunk(branch, step.chunk, final, keys)
            if step.probe is not None and branch.active:
                self._apply_probe(branch, step.probe, keys)
            if branch.active:
                fresh.add(branch.id)
        return fresh


def _tokens(result: Chunk | ProbeResult | Exception | None) -> int:
    return result.tokens if isinstance(result, Chunk | ProbeResult) else 0


ENGINES: dict[str, type[Search]] = {"round": Search, "streamed": StreamedSearch}
