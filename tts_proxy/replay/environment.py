"""A replay environment: one question's recorded branches, with each chunk's probe answer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RecordedBranch:
    """One recorded trajectory: ``probe_answers[k]`` is what a probe read after (k+1) chunks."""

    probe_answers: tuple[str | None, ...]
    n_tokens: int
    final_answer: str | None
    # Tokens of each recorded step, where the recording has them (traces: a chunk cut short by
    # a budget is shorter); empty: every step but the last costs one chunk.
    chunks: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ReplayQuestion:
    """One question and its recorded branches. ``label`` is the gold (or pseudo) answer."""

    id: str
    question: str
    label: str | None
    branches: tuple[RecordedBranch, ...]
    chunk_tokens: int
    label_source: str = "gold"  # "gold", "feedback", "pseudo" or "none"
