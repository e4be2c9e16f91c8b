"""DeepConf: warm-up sets the threshold, low-confidence branches stop early, votes are
weighted -- live (signals from the chunks' logprobs) and replayed from the trace the same."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from tts_proxy.actions import Prune
from tts_proxy.backends.base import Chunk, ProbeResult
from tts_proxy.backends.replay import ReplayEpisode
from tts_proxy.confidence import ConfidenceSignals
from tts_proxy.controllers.base import Limits
from tts_proxy.controllers.deepconf import DeepConf
from tts_proxy.engine import run_search
from tts_proxy.replay.environment import RecordedBranch, ReplayQuestion
from tts_proxy.replay.key_cache import prime_answer_keys
from tts_proxy.state import BranchState, TokenLogprob
from tts_proxy.traces import build_record, question_from_record

pytestmark = pytest.mark.anyio
CHUNK = 16


def recorded(answer: str, confidence: Sequence[float], steps: int = 4) -> RecordedBranch:
    signals = tuple(ConfidenceSignals(c, min(confidence[: i + 1]), c)
                    for i, c in enumerate(confidence))  # fmt: skip
    return RecordedBranch((answer,) * (steps - 1), CHUNK * steps, answer,
                          (CHUNK,) * steps, confidences=signals)  # fmt: skip


def question(branches: list[RecordedBranch]) -> ReplayQuestion:
    (q,) = prime_answer_keys([ReplayQuestion("q", "?", "7", tuple(branches), CHUNK)], source="")
    return q


async def replay(q: ReplayQuestion, beta: float, width: int) -> tuple[DeepConf, object]:
    limits = Limits(max_branches=width, chunk_tokens=CHUNK)
    controller = DeepConf(beta, limits)
    result = await run_search(controller, ReplayEpisode(q, range(len(q.branches))), limits,
                              record=True)  # fmt: skip
    return controller, result


async def test_branches_below_the_warm_up_threshold_stop_early() -> None:
    warm = [recorded("7", [5.0] * 4), recorded("7", [4.0] * 4)]
    later = [recorded("9", [1.0] * 4) for _ in range(4)] + [recorded("7", [6.0] * 4)] * 2
    controller, _ = await replay(question(warm + later), beta=0.0, width=8)
    # beta 0: width 2 -> one warm-up branch, then one more
    assert controller.width == 2 and controller.warmup == 1
    _, wide = await replay(question(warm + later), beta=1.0, width=8)
    assert wide.answer == "7"  # type: ignore[attr-defined]
    pruned = [b for b in wide.branches if b.pruned]  # type: ignore[attr-defined]
    assert pruned and all(b.confidence.group < 4.0 for b in pruned)
    assert all(b.tokens < CHUNK * 4 for b in pruned)  # stopped before their end
    assert any(isinstance(a, Prune) for r in wide.log for a in r)  # type: ignore[attr-defined]


async def test_votes_are_weighted_by_confidence() -> None:
    # two unsure branches say 9, one sure branch says 7: the weighted vote is 7
    q = question([recorded("9", [1.0] * 4), recorded("9", [1.0] * 4), recorded("7", [9.0] * 4)])
    limits = Limits(max_branches=3, chunk_tokens=CHUNK)
    result = await run_search(DeepConf(1.0, limits), ReplayEpisode(q, [0, 1, 2]), limits)
    assert sorted(str(b.answer) for b in result.branches if b.finished) == ["7", "9", "9"]
    assert result.answer == "7"


async def test_more_beta_spends_no_less() -> None:
    branches = [recorded(str(i % 3), [float(1 + i % 5)] * 4) for i in range(16)]
    q = question(branches)
    spent = []
    for beta in (0.0, 0.25, 0.5, 0.75, 1.0):
        _, result = await replay(q, beta, 16)
        spent.append(result.tokens)  # type: ignore[attr-defined]
    assert spent == sorted(spent)


class LogprobEpisode:
    """A live-like episode: every chunk carries top-k logprobs (branch i: confidence i+1)."""

    max_branches: int | None = None

    def __init__(self, steps: int = 3) -> None:
        self.steps = steps

    async def extend(self, requests: Sequence[tuple[BranchState, int]]) -> list[Chunk]:
        out = []
        for branch, n in requests:
            size = min(n, CHUNK)
            value = -(branch.id % 3 + 1.0)
            lp = TokenLogprob("x", value, (("x", value), ("y", value)))
            done = branch.depth + 1 >= self.steps or n > CHUNK
            text = " \\\\boxed{7}" if done else "x"
            out.append(Chunk(size, text, done, "stop" if done else None, logprobs=(lp,) * size))
        return out

    async def probe(self, branches: Sequence[BranchState]) -> list[ProbeResult]:
        return [ProbeResult(None) for _ in branches]

    async def release(self, branches: Sequence[BranchState]) -> None:
        return None


async def test_live_signals_are_recorded_in_traces_and_replay_the_same() -> None:
    limits = Limits(max_branches=6, chunk_tokens=CHUNK)
    live = await run_search(DeepConf(1.0, limits), LogprobEpisode(), limits, record=True)
    assert all(b.confidence is not None for b in live.branches)
    assert live.branches[2].confidence.group == pytest.approx(3.0)  # type: ignore[union-attr]
    record = build_record(request_id="r", model="m", prompt="?", log_prompts=True,
                          controller="deepconf", beta=1.0, mode="default", chunk_tokens=CHUNK,
                          probe_suffix="", result=live, usage={}, latency_s=0.0)  # fmt: skip
    data = json.loads(record.model_dump_json(by_alias=True))
    assert data["branches"][0]["confidence"]  # one (group, lowest, tail) per chunk
    q = prime_answer_keys([question_from_record(data, {"answer": "7"})], source="")[0]
    replayed = await run_search(DeepConf(1.0, limits), ReplayEpisode(q, range(len(q.branches))),
                                limits)  # fmt: skip
    assert [b.confidence for b in replayed.branches] == [b.confidence for b in live.branches]
    assert (replayed.answer, replayed.tokens) == (live.answer, live.tokens)
