"""A replay environment: one question's recorded branches, with each chunk's probe answer."""

from __future__ import annotations

from dataclasses import dataclass, field

from tts_proxy.backends.base import ProbeResult
from tts_proxy.confidence import ConfidenceSignals


@dataclass(frozen=True, slots=True)
class RecordedBranch:
    """One recorded trajectory: ``probe_answers[k]`` is what a probe read after (k+1) chunks."""

    probe_answers: tuple[str | None, ...]
    n_tokens: int
    final_answer: str | None
    # Tokens of each recorded step, where the recording has them (traces: a chunk cut short by
    # a budget is shorter); empty: every step but the last costs one chunk.
    chunks: tuple[int, ...] = ()
    # The answers' canonical keys (``tts_proxy.replay.key_cache`` fills them in on loading);
    # empty / None: the engine computes them.
    probe_keys: tuple[str | None, ...] = ()
    final_key: str | None = None
    # Token confidence at the end of each step, where recorded (traces with confidence on).
    confidences: tuple[ConfidenceSignals, ...] = ()

    # What a probe reads after each step, built once (replay probes each many times).
    probes: tuple[ProbeResult, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys = self.probe_keys or (None,) * len(self.probe_answers)
        pairs = zip(self.probe_answers, keys, strict=True)
        object.__setattr__(self, "probes", tuple(ProbeResult(a, key=k) for a, k in pairs))

    def confidence_at(self, step: int) -> ConfidenceSignals | None:
        """The confidence after ``step + 1`` steps (the last recorded past the end)."""
        if not self.confidences:
            return None
        return self.confidences[min(step, len(self.confidences) - 1)]

    def tokens_of(self, first: int, steps: int | None, chunk: int) -> int:
        """What ``steps`` recorded steps from step ``first`` cost (None: the rest of the
        branch, its final step included), with ``chunk`` tokens a step where not recorded."""
        if self.chunks:
            return sum(self.chunks[first : None if steps is None else first + steps])
        if steps is not None:
            return chunk * steps
        recorded = len(self.probe_answers)
        return chunk * (recorded - first) + max(0, self.n_tokens - chunk * recorded)


@dataclass(frozen=True, slots=True)
class ReplayQuestion:
    """One question and its recorded branches. ``label`` is the gold (or pseudo) answer."""

    id: str
    question: str
    label: str | None
    branches: tuple[RecordedBranch, ...]
    chunk_tokens: int
    label_source: str = "gold"  # "gold", "feedback", "pseudo" or "none"
