"""The streamed engine: no round barrier, aborted and resumed streams, probes beside the
stream, and the same decisions as the round engine where timing cannot matter."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence

import pytest

from tests.fakes import FakeEpisode, FakeStreamingEpisode, Script
from tts_proxy.actions import Action, Answer, Branch, Continue, Prune
from tts_proxy.backends.base import Piece
from tts_proxy.controllers import ControllerRegistry
from tts_proxy.controllers.base import Controller, Limits
from tts_proxy.engine import run_search
from tts_proxy.errors import InvalidRequestError
from tts_proxy.state import BranchState, View
from tts_proxy.streamed import ENGINES, StreamedSearch

pytestmark = pytest.mark.anyio
UNIT = 8  # tokens per chunk


def limits(width: int = 4, cap: int = 10 * UNIT, budget: int | None = None) -> Limits:
    return Limits(max_branches=width, budget=budget, chunk_tokens=UNIT, max_branch_tokens=cap)


class FirstFinished(Controller):
    """Starts ``width`` whole branches; answers with the first one that finishes, pruning
    the rest first when ``prune`` is set."""

    name = "first_finished"

    def __init__(self, width: int, prune: bool = False) -> None:
        super().__init__(0.5, limits(width))
        self.width, self.prune = width, prune

    def decide(self, view: View) -> Sequence[Action]:
        if not view.branches:
            return [Branch(self.width, to_end=True)]
        done = [b for b in view.branches if b.finished]
        if not done:
            return []
        if self.prune and view.active:
            return [Prune(b.id) for b in view.active]
        return [Answer(done[0].answer)]


class HoldSecond(Controller):
    """Two stepped branches; the second waits at its first boundary until the first ends."""

    name = "hold_second"

    def decide(self, view: View) -> Sequence[Action]:
        if not view.branches:
            return [Branch(2)]
        first, second = view.branches
        if first.active:
            return [Continue(first.id)]
        return [Continue(second.id)] if second.active else [Answer()]


class ProbeEveryChunk(Controller):
    """One branch, continued and probed at every boundary."""

    name = "probe_every_chunk"

    def decide(self, view: View) -> Sequence[Action]:
        if not view.branches:
            return [Branch(1, probe=True)]
        branch = view.branches[0]
        return [Continue(branch.id, probe=True)] if branch.active else [Answer()]


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0])
async def test_both_engines_decide_alike_where_timing_cannot_matter(beta: float) -> None:
    """Every chunk takes the same tokens, so the token clock groups steps as rounds do."""
    scripts = [Script(4, "7", ["1", "7", "7", "7"]), Script(3, "7", ["7", "7", "7"]),
               Script(4, "3", ["3", "3", "2", "3"])]  # fmt: skip
    registry = ControllerRegistry()
    box = Limits(max_branches=8, budget=4000, chunk_tokens=64, max_branch_tokens=256)
    for name in registry.names():
        results = []
        for engine in ENGINES.values():
            controller = registry.get(name)(beta, box, random.Random(0))
            result = await run_search(controller, FakeEpisode(scripts), box, record=True,
                                      engine=engine)  # fmt: skip
            results.append((result.log, result.answer, result.tokens, result.stop_reason))
        assert results[0] == results[1], name


async def test_a_finished_branch_is_answered_without_waiting_for_the_slowest() -> None:
    episode = FakeStreamingEpisode([Script(4, "7"), Script(50, "9")], UNIT,
                                   seconds={1: 0.004})  # fmt: skip
    result = await run_search(FirstFinished(2), episode, limits(2), engine=StreamedSearch)
    fast, slow = result.branches
    assert result.answer == "7" and fast.finished and not slow.finished
    assert episode.aborted == [1]  # the slow stream was cut, not waited for
    assert result.discarded_tokens > 0  # what it had generated is counted
    assert result.tokens == fast.tokens + result.discarded_tokens


async def test_pruning_a_branch_under_way_aborts_its_stream_at_once() -> None:
    episode = FakeStreamingEpisode([Script(4, "7"), Script(50, "9")], UNIT,
                                   seconds={1: 0.004})  # fmt: skip
    search = StreamedSearch(FirstFinished(2, prune=True), episode, limits(2))
    result = await search.run()
    assert result.branches[1].pruned and episode.aborted == [1]
    assert result.discarded_tokens > 0 and result.answer == "7"


async def test_a_continued_branch_keeps_its_stream_and_a_paused_one_resumes_from_its_ids() -> None:
    episode = FakeStreamingEpisode([Script(3, "7"), Script(2, "7")], UNIT)
    result = await run_search(HoldSecond(0.5, limits(2)), episode, limits(2),
                              engine=StreamedSearch)  # fmt: skip
    first, second = result.branches
    assert first.finished and first.depth == 3 and second.finished and second.depth == 2
    # One stream for the first branch's three chunks; the second was paused at its first
    # boundary and resumed from the ids it had kept there.
    assert episode.opened == [(0, 0), (1, 0), (1, UNIT)]
    assert 1 in episode.aborted and 0 not in episode.aborted
    assert episode.kept[1] == list(range(2 * UNIT))


async def test_a_probe_runs_beside_the_stream_at_each_boundary() -> None:
    episode = FakeStreamingEpisode([Script(3, "7", ["1", "7"])], UNIT, tick=0.002)
    result = await run_search(ProbeEveryChunk(0.5, limits(1)), episode, limits(1),
                              engine=StreamedSearch)  # fmt: skip
    (branch,) = result.branches
    assert episode.opened == [(0, 0)]  # probing never stopped (or re-sent) the stream
    assert episode.probed_ids == [(0, UNIT), (0, 2 * UNIT)]
    assert [(p.depth, p.answer) for p in branch.probes] == [(1, "1"), (2, "7")]
    assert branch.finished and result.answer == "7"


async def test_a_failed_stream_drops_its_branch_and_the_others_answer() -> None:
    episode = FakeStreamingEpisode([Script(2, "7")], UNIT, failing={1})
    controller = FirstFinished(3)
    result = await run_search(controller, episode, limits(3), engine=StreamedSearch)
    assert result.answer == "7" and result.failed == 1
    assert result.branches[1].finish_reason == "error"


async def test_cancelling_a_streamed_search_aborts_every_stream() -> None:
    episode = FakeStreamingEpisode([Script(50, "9")], UNIT, tick=0.05)
    task = asyncio.create_task(run_search(FirstFinished(3), episode, limits(3),
                                          engine=StreamedSearch))  # fmt: skip
    while len(episode.opened) < 3:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(episode.aborted) == [0, 1, 2]


async def test_the_token_clock_shows_an_early_finisher_first_and_counts_a_pruned_flight() -> None:
    """In replay a branch's step arrives after its tokens: one that ends at 16 tokens is
    seen while one of 32 is still under way, which has generated 16 when it is pruned."""
    episode = FakeEpisode([Script(2, "7"), Script(4, "9")], chunk_tokens=UNIT)
    result = await run_search(FirstFinished(2, prune=True), episode, limits(2),
                              engine=StreamedSearch, record=True)  # fmt: skip
    short, long = result.branches
    assert short.finished and short.tokens == 2 * UNIT
    assert long.pruned and long.tokens == 0
    assert result.discarded_tokens == 2 * UNIT and result.tokens == 4 * UNIT
    assert result.log == [[Branch(2, to_end=True)], [Prune(1)]]


class RefusingEpisode(FakeStreamingEpisode):
    """A server that refuses the request itself (a 4xx): no branch could do better."""

    async def open(self, branch: BranchState, max_tokens: int) -> AsyncIterator[Piece]:
        raise InvalidRequestError("the server refused these sampling parameters")
        yield Piece(())  # pragma: no cover - makes this an async generator


async def test_an_error_the_request_caused_reaches_the_caller_not_a_branch() -> None:
    episode = RefusingEpisode([Script(2, "7")], UNIT)
    with pytest.raises(InvalidRequestError, match="refused"):
        await run_search(FirstFinished(2), episode, limits(2), engine=StreamedSearch)
