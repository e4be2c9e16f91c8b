"""Serve BRANCH / CONTINUE / PROBE from a recorded question, so the live engine runs unchanged.

Cost accounting follows AutoTTS' replay: each step of a branch reveals the probe answer after
one more chunk and costs a chunk of tokens; the step past the last recorded probe finishes the
branch with its final answer and costs the rest of its tokens. Where the recording has each
step's tokens (traces: a chunk cut short by a budget), each step costs what it cost live.
Probes cost nothing extra here (the recording already paid for them). An extension asking for
k chunks' worth of tokens (a run to the end asks for many) takes k steps at once, costed the
same as k single steps.
"""

from __future__ import annotations

from collections.abc import Sequence

from tts_proxy.backends.base import Chunk, ProbeResult
from tts_proxy.replay.environment import RecordedBranch, ReplayQuestion
from tts_proxy.state import BranchState


class ReplayEpisode:
    """One search over ``question``; branch i is recorded trajectory ``order[i]``."""

    def __init__(self, question: ReplayQuestion, order: Sequence[int]) -> None:
        self.question = question
        self._trajectories: list[RecordedBranch] = [question.branches[i] for i in order]
        self.max_branches: int | None = len(self._trajectories)
        self._chunk = question.chunk_tokens
        self._step = Chunk(tokens=self._chunk)  # immutable, so every mid-branch step shares it

    async def extend(self, requests: Sequence[tuple[BranchState, int]]) -> Sequence[Chunk]:
        chunks = []
        step = self._step
        size = self._chunk
        for branch, n in requests:
            rec = self._trajectories[branch.id]
            left = len(rec.probe_answers) - branch.depth  # recorded steps before the end
            steps = n // size if n > size else 1  # a run to the end asks for many chunks
            if steps > left:
                cost = rec.tokens_of(branch.depth, None, size)
                chunks.append(
                    Chunk(cost, "", True, "stop", rec.final_answer, left + 1, rec.final_key,
                          confidence=rec.confidence_at(branch.depth + left))
                )  # fmt: skip
            elif steps == 1 and not rec.chunks and not rec.confidences:
                chunks.append(step)
            else:
                cost = rec.tokens_of(branch.depth, steps, size)
                signals = rec.confidence_at(branch.depth + steps - 1)
                chunks.append(Chunk(cost, steps=steps, confidence=signals))
        return chunks

    async def probe(self, branches: Sequence[BranchState]) -> Sequence[ProbeResult]:
        trajectories = self._trajectories
        return [trajectories[b.id].probes[b.depth - 1] for b in branches]

    async def release(self, branches: Sequence[BranchState]) -> None:
        return None
