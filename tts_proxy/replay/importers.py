"""Turn recorded data into replay environments; the format is read off the file's content.

- AutoTTS / Parallel-Probe replay JSON: a list of questions with ``each_branch =
  [[probe answers per chunk], n_tokens, final answer]``, ``gold_answer``, ``probe_freq``.
- Full-text sample files (ESC's JSONL: ``question``, ``answer``, ``generated_answer``): each
  text is cut into chunks by a tokenizer-free token estimate and every prefix is read for an
  answer, as a probe would.
- The proxy's own ``tts-trace/1`` records (see ``tts_proxy.traces``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tts_proxy.answers import extract_answer
from tts_proxy.errors import ReplayDataError
from tts_proxy.replay.environment import RecordedBranch, ReplayQuestion
from tts_proxy.replay.key_cache import prime_answer_keys
from tts_proxy.traces import LABELS_FILE, questions_from_traces, read_records, trace_files

_TOKEN_ESTIMATE = re.compile(r"\w+|[^\w\s]")
_NO_ANSWER = {"ERR", "", "None"}
DEFAULT_TEXT_CHUNK = 16


def _answer(raw: object) -> str | None:
    if raw is None:
        return None
    s = str(raw).strip()
    return None if s in _NO_ANSWER else s


def _count(raw: Any, what: str, least: int) -> int:
    """``raw`` (whatever the file holds) as a count of at least ``least``; ``ValueError`` or
    ``TypeError`` otherwise."""
    n = int(raw)
    if n < least:
        raise ValueError(f"{what} must be at least {least}, got {n}")
    return n


def from_autotts(records: list[dict[str, Any]], *, source: str = "") -> list[ReplayQuestion]:
    questions = []
    for i, rec in enumerate(records):
        try:
            branches = tuple(
                RecordedBranch(
                    tuple(_answer(a) for a in probes), _count(n, "tokens", 0), _answer(final)
                )
                for probes, n, final in rec["each_branch"]
            )
            questions.append(
                ReplayQuestion(
                    id=f"{source}#{i}",
                    question=str(rec.get("question", "")),
                    label=_answer(rec.get("gold_answer")),
                    branches=branches,
                    chunk_tokens=_count(rec.get("probe_freq", 500), "probe_freq", 1),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ReplayDataError(
                f"{source}: question {i} is not AutoTTS replay data: {exc}"
            ) from exc
    return questions


def estimate_tokens(text: str) -> list[int]:
    """Character offsets where each estimated token ends (words and punctuation marks)."""
    return [m.end() for m in _TOKEN_ESTIMATE.finditer(text)]


def branch_from_text(text: str, chunk_tokens: int) -> RecordedBranch:
    """Cut a full text into chunks and read the answer a probe would see after each."""
    ends = estimate_tokens(text)
    n = len(ends)
    steps = max(0, math.ceil(n / chunk_tokens) - 1)
    probes = tuple(extract_answer(text[: ends[(k + 1) * chunk_tokens - 1]]) for k in range(steps))
    return RecordedBranch(probes, n, extract_answer(text))


def from_texts(
    records: Iterable[dict[str, Any]], *, chunk_tokens: int = DEFAULT_TEXT_CHUNK, source: str = ""
) -> list[ReplayQuestion]:
    questions = []
    for i, rec in enumerate(records):
        texts = rec.get("generated_answer") or rec.get("samples")
        if not isinstance(texts, list):
            raise ReplayDataError(f"{source}: line {i + 1} has no list of sampled texts")
        questions.append(
            ReplayQuestion(
                id=f"{source}#{i}",
                question=str(rec.get("question", "")),
                label=_answer(rec.get("answer")),
                branches=tuple(branch_from_text(str(t), chunk_tokens) for t in texts),
                chunk_tokens=chunk_tokens,
            )
        )
    return questions


def load_replay(
    path: Path | str, *, chunk_tokens: int = DEFAULT_TEXT_CHUNK
) -> list[ReplayQuestion]:
    """Read any supported replay file (format detected from its content), keys primed."""
    path = Path(path)
    return prime_answer_keys(_load(path, chunk_tokens), source=path.name)


def _load(path: Path, chunk_tokens: int) -> list[ReplayQuestion]:
    if path.is_dir():  # a trace directory
        records = list(read_records(trace_files(path)))
        if not records:
            raise ReplayDataError(f"{path} holds no tts-trace records")
        return questions_from_traces(records, source=path.name, labels_path=path / LABELS_FILE)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReplayDataError(f"cannot read {path}: {exc.strerror}") from exc
    stripped = text.lstrip()
    if stripped.startswith("["):
        data = json.loads(text)
        if data and isinstance(data[0], dict) and "each_branch" in data[0]:
            return from_autotts(data, source=path.name)
        raise ReplayDataError(f"{path}: a JSON list, but not AutoTTS replay data")
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    try:
        first = json.loads(first_line) if first_line else None
    except ValueError as exc:
        raise ReplayDataError(f"{path}: not JSON or JSON lines: {exc}") from exc
    if first is None:
        raise ReplayDataError(f"{path} is empty")
    if isinstance(first, dict) and str(first.get("schema", "")).startswith("tts-trace/"):
        records = list(read_records([path]))
        return questions_from_traces(
            records, source=path.name, labels_path=path.parent / LABELS_FILE
        )
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(first, dict) and ("generated_answer" in first or "samples" in first):
        return from_texts(lines, chunk_tokens=chunk_tokens, source=path.name)
    raise ReplayDataError(
        f"{path}: unknown format (expected AutoTTS JSON, full-text samples JSONL or tts-trace/1)"
    )
