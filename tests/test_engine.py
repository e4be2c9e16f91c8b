"""Engine semantics against a scripted fake episode: actions, admissibility, budget, stopping."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Sequence

import pytest

from tests.fakes import FakeEpisode, Script
from tts_proxy.actions import Action, Answer, Branch, Continue, Probe, Prune
from tts_proxy.controllers.base import Controller, Limits
from tts_proxy.engine import SearchResult, run_search
from tts_proxy.errors import BackendError
from tts_proxy.state import View
from tts_proxy.streamed import ENGINES

pytestmark = pytest.mark.anyio
Run = Callable[..., Awaitable[SearchResult]]


@pytest.fixture(params=list(ENGINES), ids=list(ENGINES))
def search(request: pytest.FixtureRequest) -> Run:
    """Both engines keep every rule here (the streamed one over its token-clock streams)."""
    return functools.partial(run_search, engine=ENGINES[request.param])


# Scripted by rounds, where steps of unequal length or timing share a round: the streamed
# engine shows the earlier step alone (its own tests cover these rules: test_streamed.py).
by_rounds = pytest.mark.parametrize("search", ["round"], indirect=True)


class Scripted(Controller):
    """Plays back a fixed list of rounds, then answers by majority."""

    name = "scripted"

    def __init__(self, rounds: Sequence[Sequence[Action]], limits: Limits) -> None:
        super().__init__(0.5, limits)
        self.rounds = list(rounds)
        self.views: list[View] = []

    def decide(self, view: View) -> Sequence[Action]:
        self.views.append(view)
        return self.rounds[view.round] if view.round < len(self.rounds) else [Answer()]


class Forever(Controller):
    """Never answers: keeps continuing every branch and starting new ones."""

    name = "forever"

    def decide(self, view: View) -> Sequence[Action]:
        return [Branch(1), *(Continue(b.id) for b in view.active)]


@by_rounds
async def test_branch_continue_probe_prune_answer(search: Run) -> None:
    limits = Limits(max_branches=4, chunk_tokens=10)
    episode = FakeEpisode([Script(3, "7", ["1", "7"]), Script(3, "5", ["5", "5"])])
    controller = Scripted(
        [
            [Branch(2)],
            [Probe(0), Probe(1), Continue(0), Continue(1)],
            [Prune(1), Continue(0), Continue(1)],  # Continue(1) after Prune(1) is refused
        ],
        limits,
    )
    result = await search(controller, episode, limits, record=True)
    assert episode.extended == [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2)]
    assert episode.probed == [(0, 1), (1, 1)]
    assert episode.released == [1]
    b0, b1 = result.branches
    assert b0.finished and b0.answer == "7" and b0.depth == 3
    assert b1.pruned and not b1.finished
    assert [p.answer for p in b0.probes] == ["1"] and b0.probes[0].depth == 1
    assert result.branch_tokens == 50 and result.probe_tokens == 6
    assert result.answer == "7" and result.answer_branch is b0
    assert result.inadmissible == 1
    assert result.log[2] == [Prune(1), Continue(0)]


async def test_inadmissible_actions_are_dropped(search: Run) -> None:
    limits = Limits(max_branches=2, chunk_tokens=5)
    episode = FakeEpisode([Script(1, "3")])
    controller = Scripted(
        [
            [Branch(5)],  # only 2 fit
            [Continue(0), Probe(0), Continue(9), Prune(9)],  # 0 finished; 9 does not exist
        ],
        limits,
    )
    result = await search(controller, episode, limits)
    assert len(result.branches) == 2
    assert result.inadmissible == 3 + 4
    assert result.stop_reason == "exhausted"


async def test_one_probe_per_depth(search: Run) -> None:
    limits = Limits(max_branches=1, chunk_tokens=5)
    episode = FakeEpisode([Script(5, "3", ["1", "2", "3"])])
    controller = Scripted([[Branch(1)], [Probe(0), Probe(0)], [Probe(0)]], limits)
    result = await search(controller, episode, limits)
    assert episode.probed == [(0, 1)]
    assert result.inadmissible == 2


async def test_budget_is_enforced(search: Run) -> None:
    limits = Limits(max_branches=100, budget=95, chunk_tokens=10)
    episode = FakeEpisode([Script(1000, "1")])
    result = await search(Forever(0.5, limits), episode, limits)
    assert result.stop_reason == "budget"
    assert result.tokens == 95


async def test_round_limit_stops_a_controller_that_never_answers(search: Run) -> None:
    limits = Limits(max_branches=2, chunk_tokens=1)
    episode = FakeEpisode([Script(10**6, "1")])
    result = await search(Forever(0.5, limits), episode, limits, max_rounds=25)
    assert result.stop_reason == "round_limit"
    assert result.rounds == 25


async def test_branch_length_cap_finishes_a_branch_and_reads_its_answer(search: Run) -> None:
    limits = Limits(max_branches=1, chunk_tokens=10, max_branch_tokens=25)
    episode = FakeEpisode([Script(100, None)])
    result = await search(Forever(0.5, limits), episode, limits)
    (b,) = result.branches
    assert b.finished and b.finish_reason == "length" and b.tokens == 25
    assert b.depth == 3  # 10 + 10 + the 5 that were left


async def test_no_progress_ends_with_majority_of_probes(search: Run) -> None:
    limits = Limits(max_branches=3, chunk_tokens=4)
    episode = FakeEpisode([Script(9, "x", ["4"]), Script(9, "x", ["4"]), Script(9, "x", ["5"])])
    controller = Scripted([[Branch(3)], [Probe(0), Probe(1), Probe(2)], []], limits)
    result = await search(controller, episode, limits)
    assert result.stop_reason == "no_progress"
    assert result.answer == "4"
    assert result.answer_probe is not None and result.answer_probe.answer == "4"


async def test_votes_group_equivalent_answers(search: Run) -> None:
    limits = Limits(max_branches=5, chunk_tokens=4)
    scripts = [Script(1, "1/2"), Script(1, "\\frac{1}{2}"), Script(1, "0.5"), Script(1, "3"),
               Script(1, "3")]  # fmt: skip
    controller = Scripted([[Branch(5)]], limits)
    result = await search(controller, FakeEpisode(scripts), limits)
    assert result.answer == "1/2"


@by_rounds
async def test_a_run_to_the_end_takes_one_round_and_all_its_chunks(search: Run) -> None:
    limits = Limits(max_branches=2, chunk_tokens=10)
    episode = FakeEpisode([Script(4, "7"), Script(2, "7")], chunk_tokens=10)
    controller = Scripted([[Branch(1, to_end=True), Branch(1)]], limits)
    result = await search(controller, episode, limits, record=True)
    whole, stepped = result.branches
    assert result.log[0] == [Branch(1, to_end=True), Branch(1)]
    assert whole.finished and whole.depth == 4 and whole.tokens == 40
    assert stepped.depth == 1 and not stepped.finished
    assert result.rounds == 1


@by_rounds
async def test_a_run_to_the_end_stops_at_the_length_cap_and_the_budget(search: Run) -> None:
    limits = Limits(max_branches=2, chunk_tokens=10, max_branch_tokens=35, budget=50)
    episode = FakeEpisode([Script(100, None)], chunk_tokens=10)
    controller = Scripted([[Branch(2, to_end=True)]], limits)
    result = await search(controller, episode, limits)
    first, second = result.branches
    assert first.finished and first.finish_reason == "length" and first.tokens == 35
    assert not second.finished and second.tokens == 15  # what the budget left
    assert result.tokens == 50 and result.stop_reason == "budget"


async def test_an_extension_with_probe_is_probed_at_its_new_depth_in_the_same_round(
    search: Run,
) -> None:
    limits = Limits(max_branches=2, chunk_tokens=10)
    episode = FakeEpisode([Script(3, "7", ["1", "7"]), Script(1, "5")])
    controller = Scripted([[Branch(2, probe=True)], [Continue(0, probe=True)]], limits)
    result = await search(controller, episode, limits, record=True)
    running, done = result.branches
    assert episode.probed == [(0, 1), (0, 2)]  # the finished branch is not probed
    assert [p.answer for p in running.probes] == ["1", "7"] and done.finished
    assert result.log == [[Branch(2, probe=True)], [Continue(0, probe=True)]]
    assert result.probe_tokens == 6 and result.inadmissible == 0


class Raising(Controller):
    """Starts two branches, then raises in ``decide`` (and in ``aggregate`` when asked)."""

    name = "raising"
    aggregate_raises = False

    def decide(self, view: View) -> Sequence[Action]:
        if not view.branches:
            return [Branch(2, to_end=True)]
        raise ZeroDivisionError("bug")

    def aggregate(self, view: View) -> str | None:
        if self.aggregate_raises:
            raise KeyError("also a bug")
        return super().aggregate(view)


@pytest.mark.parametrize("aggregate_raises", [False, True])
async def test_a_raising_controller_is_stopped_and_the_majority_answers(
    aggregate_raises: bool, search: Run
) -> None:
    limits = Limits(max_branches=2, chunk_tokens=10)
    controller = Raising(0.5, limits)
    controller.aggregate_raises = aggregate_raises
    episode = FakeEpisode([Script(1, "7")], chunk_tokens=10)
    result = await search(controller, episode, limits)
    assert result.stop_reason == "controller_error" and result.answer == "7"
    assert result.fault is not None and "ZeroDivisionError" in result.fault


@by_rounds
async def test_failed_branches_are_dropped_and_the_others_answer(search: Run) -> None:
    limits = Limits(max_branches=3, chunk_tokens=10)
    episode = FakeEpisode([Script(2, "7")], chunk_tokens=10, failing={1})
    result = await search(Scripted([[Branch(3, to_end=True)]], limits), episode, limits)
    assert result.answer == "7" and result.failed == 1 and result.degraded
    assert result.branches[1].finish_reason == "error"


async def test_a_search_whose_every_branch_fails_raises_the_backend_error(search: Run) -> None:
    limits = Limits(max_branches=2, chunk_tokens=10)
    episode = FakeEpisode([Script(2, "7")], failing={0, 1})
    with pytest.raises(BackendError):
        await search(Scripted([[Branch(2)]], limits), episode, limits)


async def test_the_deadline_cancels_the_round_in_flight_and_answers_from_what_exists(
    search: Run,
) -> None:
    limits = Limits(max_branches=2, chunk_tokens=10)
    episode = FakeEpisode([Script(1, "7"), Script(50, "9")], delay=0.05)
    deadline = time.monotonic() + 0.5
    result = await search(Forever(0.5, limits), episode, limits, deadline=deadline)
    assert result.stop_reason == "time_limit"
    assert result.answer == "7"  # the finished branch
    assert episode.cancelled == 1
