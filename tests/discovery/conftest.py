"""Replay files built from synthetic questions, so discovery runs without the shared data."""

from __future__ import annotations

import json
from pathlib import Path

from tts_proxy.replay.synthetic import synthetic_question


def write_environment(path: Path, *, questions: int = 6, seed: int = 0) -> Path:
    """An AutoTTS-format replay file of synthetic questions."""
    records = []
    for i in range(questions):
        q = synthetic_question(seed * 100 + i, branches=16)
        records.append({
            "question": q.question, "gold_answer": q.label, "probe_freq": q.chunk_tokens,
            "each_branch": [[list(b.probe_answers), b.n_tokens, b.final_answer]
                            for b in q.branches],
        })  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records))
    return path


def two_models(root: Path) -> list[Path]:
    return [
        write_environment(root / "model-a" / "bench.json", seed=1),
        write_environment(root / "model-b" / "bench.json", seed=2),
    ]
