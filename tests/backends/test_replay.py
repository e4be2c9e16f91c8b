"""ReplayEpisode: AutoTTS cost accounting and determinism."""

from __future__ import annotations

import pytest

from tts_proxy.actions import Answer, Branch, Continue
from tts_proxy.backends.replay import ReplayEpisode
from tts_proxy.controllers import ControllerRegistry
from tts_proxy.controllers.base import Limits
from tts_proxy.controllers.sc import SelfConsistency
from tts_proxy.engine import run_search
from tts_proxy.replay.environment import RecordedBranch, ReplayQuestion
from tts_proxy.replay.evaluate import ordering, replay_one
from tts_proxy.replay.synthetic import synthetic_question

pytestmark = pytest.mark.anyio


async def test_each_step_costs_a_chunk_and_the_last_costs_the_rest() -> None:
    q = ReplayQuestion("q", "", "5", (RecordedBranch(("1", None, "5"), 1730, "5"),), 500)
    limits = Limits(max_branches=1, chunk_tokens=500)
    result = await run_search(SelfConsistency(1.0, limits), ReplayEpisode(q, [0]), limits)
    (b,) = result.branches
    assert b.depth == 4 and b.finished and b.answer == "5"
    assert result.branch_tokens == 1730 == b.tokens  # 3 x 500 + 230
    assert result.probe_tokens == 0


async def test_probe_reads_the_recorded_answer_for_free() -> None:
    q = ReplayQuestion("q", "", "5", (RecordedBranch(("1", None, "5"), 1730, "5"),), 500)
    episode = ReplayEpisode(q, [0])
    from tts_proxy.state import BranchState

    answers = []
    for depth in (1, 2, 3):
        result = (await episode.probe([BranchState(0, depth=depth)]))[0]
        answers.append(result.answer)
        assert result.tokens == 0
    assert answers == ["1", None, "5"]


async def test_a_branch_with_probes_past_its_end_costs_no_more_than_recorded_steps() -> None:
    q = ReplayQuestion("q", "", "5", (RecordedBranch(("5", "5"), 900, "5"),), 500)
    limits = Limits(max_branches=1, chunk_tokens=500)
    result = await run_search(SelfConsistency(1.0, limits), ReplayEpisode(q, [0]), limits)
    assert result.branch_tokens == 1000  # two recorded steps; the finishing step adds nothing


async def test_recorded_step_sizes_are_charged_as_they_were_live() -> None:
    # A traced branch whose third and fourth chunks were cut short by the live search's budget.
    rec = RecordedBranch(("300", "540", "5"), 81, None, chunks=(32, 32, 13, 4))
    q = ReplayQuestion("q", "", "5", (rec,), 32)
    episode = ReplayEpisode(q, [0])
    from tts_proxy.state import BranchState

    first, third = await episode.extend([(BranchState(0), 32), (BranchState(0, depth=2), 32)])
    assert (first.tokens, third.tokens) == (32, 13)
    limits = Limits(max_branches=1, chunk_tokens=32)
    result = await run_search(SelfConsistency(1.0, limits), ReplayEpisode(q, [0]), limits)
    assert result.branch_tokens == 81 == sum(rec.chunks)  # not 3 x 32: what it cost live


@pytest.mark.parametrize("controller", ["sc", "asc", "esc", "probe_exit", "parallel_probe", "cmc"])
async def test_replaying_the_same_episode_twice_is_identical(controller: str) -> None:
    cls = ControllerRegistry().get(controller)
    q = synthetic_question(3)
    limits = Limits(max_branches=16, chunk_tokens=q.chunk_tokens)
    order = ordering(0, 5, len(q.branches), 16, seed=11)
    runs = [await replay_one(cls, q, 0.5, limits, order, seed=11, record=True) for _ in range(2)]
    a, b = runs
    assert a.log == b.log and a.log
    assert (a.answer, a.tokens, a.rounds, a.stop_reason) == (
        b.answer,
        b.tokens,
        b.rounds,
        b.stop_reason,
    )
    assert [x.tokens for x in a.branches] == [x.tokens for x in b.branches]


def test_orderings_depend_on_seed_and_repeat_only() -> None:
    assert ordering(1, 2, 50, None, 0) == ordering(1, 2, 50, None, 0)
    assert ordering(1, 2, 50, None, 0) != ordering(1, 3, 50, None, 0)
    assert ordering(1, 2, 50, None, 0) != ordering(1, 2, 50, None, 1)
    assert len(ordering(0, 0, 50, 10, 0)) == 10


class _SteppedSC(SelfConsistency):
    """Self-consistency one chunk at a time: the reference a run to the end must match."""

    def decide(self, view):  # type: ignore[no-untyped-def]
        actions = [Continue(b.id) for b in view.branches if b.active]
        missing = self.width - len(view.branches)
        return ([Branch(missing)] if missing > 0 else []) + actions or [Answer()]


@pytest.mark.parametrize("seed", range(5))
async def test_a_run_to_the_end_costs_what_its_chunks_cost(seed: int) -> None:
    q = synthetic_question(seed)
    limits = Limits(max_branches=8, chunk_tokens=q.chunk_tokens)
    order = ordering(0, seed, len(q.branches), 8, seed=seed)
    whole = await replay_one(SelfConsistency, q, 1.0, limits, order)
    stepped = await replay_one(_SteppedSC, q, 1.0, limits, order)
    assert whole.rounds == 1 < stepped.rounds
    assert (whole.answer, whole.tokens) == (stepped.answer, stepped.tokens)
    assert [(b.depth, b.tokens, b.answer) for b in whole.branches] == [
        (b.depth, b.tokens, b.answer) for b in stepped.branches
    ]
