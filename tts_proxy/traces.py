"""Trace records (``tts-trace/1``): one JSON line per TTS request, written in the background.

A record holds everything needed to replay the request's search: the branches' chunks (token
counts) and text, every probe (branch, depth, answer, confidence, tokens), the executed
actions of each round, the answer, usage and latency. Records of exploration requests
(every branch run to the end, probed every chunk) are complete replay environments.

Files are ``<trace_dir>/traces-<n>.jsonl``; a file past ``max_bytes`` is closed and the next
number started; the oldest are deleted beyond ``max_files``. Each record is written whole and
flushed, so a process killed mid-write loses at most that record (readers skip a torn line).
Labels (``POST /v1/tts/feedback``) go to ``labels.jsonl`` beside them, append-only, and are
joined at read time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from tts_proxy.answers import answer_key
from tts_proxy.confidence import ConfidenceSignals
from tts_proxy.engine import SearchResult
from tts_proxy.replay.environment import RecordedBranch, ReplayQuestion
from tts_proxy.savings import Baseline
from tts_proxy.state import majority
from tts_proxy.workflows.tags import WorkflowTag

SCHEMA: Literal["tts-trace/1"] = "tts-trace/1"
LABELS_FILE = "labels.jsonl"
_FILE = re.compile(r"traces-(\d+)\.jsonl$")
log = logging.getLogger(__name__)


class TraceProbe(BaseModel):
    branch: int
    depth: int
    answer: str | None
    confidence: float | None = None
    tokens: int = 0


class TraceBranch(BaseModel):
    id: int
    chunks: list[int]
    text: str = ""
    finish_reason: str | None = None
    answer: str | None = None
    pruned: bool = False
    # Token confidence (group, lowest, tail) after each chunk, when the search measured it.
    confidence: list[tuple[float, float, float]] = Field(default_factory=list)


class TraceRecord(BaseModel):
    """One TTS request, as logged."""

    schema_: Literal["tts-trace/1"] = Field(SCHEMA, alias="schema")
    request_id: str
    time: float
    model: str
    messages: Any = None
    prompt_sha256: str | None = None
    controller: str
    beta: float
    mode: str = "default"
    chunk_tokens: int
    probe_suffix: str
    branches: list[TraceBranch]
    probes: list[TraceProbe]
    rounds: list[list[str]]
    answer: str | None
    stop_reason: str
    usage: dict[str, int]
    latency_s: float
    label: str | None = None
    baseline: Baseline | None = None  # the live counterfactual and what the search saved
    warnings: list[str] = Field(default_factory=list)
    workflow: str | None = None  # the workflow stage it was, when tagged
    stage: str | None = None
    run_id: str | None = None
    flops: float | None = None  # estimated, 2 x parameters x tokens

    model_config = {"populate_by_name": True}


def build_record(
    *,
    request_id: str,
    model: str,
    prompt: Any,
    log_prompts: bool,
    controller: str,
    beta: float,
    mode: str,
    chunk_tokens: int,
    probe_suffix: str,
    result: SearchResult,
    usage: dict[str, int],
    latency_s: float,
    baseline: Baseline | None = None,
    warnings: Sequence[str] = (),
    tag: WorkflowTag | None = None,
    flops: float | None = None,
) -> TraceRecord:
    """The trace record of one finished search."""
    text = json.dumps(prompt, sort_keys=True, ensure_ascii=False)
    return TraceRecord(
        request_id=request_id,
        time=time.time(),
        model=model,
        messages=prompt if log_prompts else None,
        prompt_sha256=None if log_prompts else hashlib.sha256(text.encode()).hexdigest(),
        controller=controller,
        beta=beta,
        mode=mode,
        chunk_tokens=chunk_tokens,
        probe_suffix=probe_suffix,
        branches=[
            TraceBranch(
                id=b.id,
                chunks=b.chunks,
                text=b.text,
                finish_reason=b.finish_reason,
                answer=b.answer,
                pruned=b.pruned,
                confidence=[
                    (round(c.group, 4), round(c.lowest, 4), round(c.tail, 4)) for c in b.confidences
                ],
            )
            for b in result.branches
        ],
        probes=[
            TraceProbe(
                branch=b.id,
                depth=p.depth,
                answer=p.answer,
                confidence=p.confidence,
                tokens=p.tokens,
            )
            for b in result.branches
            for p in b.probes
        ],
        rounds=[[repr(a) for a in r] for r in result.log],
        answer=result.answer,
        stop_reason=result.stop_reason,
        usage=usage,
        latency_s=round(latency_s, 4),
        baseline=baseline,
        warnings=list(warnings),
        workflow=tag.workflow if tag else None,
        stage=tag.stage if tag else None,
        run_id=tag.run if tag else None,
        flops=flops,
    )


class TraceWriter:
    """Appends records from a background thread; ``write`` never blocks a request."""

    def __init__(self, directory: Path, *, max_bytes: int = 64 << 20, max_files: int = 20):
        self.directory = directory
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.known_ids: set[str] = set()
        self.runs: dict[str, set[str]] = {}  # workflow run id -> its requests
        for request_id, run_id in self._scan_ids():
            self._know(request_id, run_id)
        self._queue: queue.SimpleQueue[TraceRecord | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="trace-writer", daemon=True)
        self._thread.start()

    def write(self, record: TraceRecord) -> None:
        self._know(record.request_id, record.run_id)
        self._queue.put(record)

    def _know(self, request_id: str, run_id: str | None) -> None:
        self.known_ids.add(request_id)
        if run_id is not None:
            self.runs.setdefault(run_id, set()).add(request_id)

    def close(self) -> None:
        """Write what is queued and stop."""
        self._queue.put(None)
        self._thread.join()

    def _scan_ids(self) -> Iterator[tuple[str, str | None]]:
        for rec in read_records(trace_files(self.directory)):
            if isinstance(rec.get("request_id"), str):
                run = rec.get("run_id")
                yield rec["request_id"], run if isinstance(run, str) else None

    def _current(self) -> Path:
        files = trace_files(self.directory)
        if files and files[-1].stat().st_size < self.max_bytes:
            return files[-1]
        number = int(_FILE.search(files[-1].name).group(1)) + 1 if files else 1  # type: ignore[union-attr]
        for old in files[: max(0, len(files) + 1 - self.max_files)]:
            old.unlink(missing_ok=True)
        return self.directory / f"traces-{number:06d}.jsonl"

    def _run(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        while (record := self._queue.get()) is not None:
            try:
                line = encode_record(record)
                with self._current().open("ab") as f:
                    f.write(line)
                    f.flush()
            except Exception:  # one bad record must not stop the writer (nor lose the rest)
                log.exception("could not write trace %s", record.request_id)


def encode_record(record: TraceRecord) -> bytes:
    """One JSON line. Model text may hold lone surrogates (vLLM's JSON escapes any code
    point), which UTF-8 cannot encode: they are written as JSON ``\\uXXXX`` escapes, so the
    text reads back exactly."""
    text = json.dumps(record.model_dump(by_alias=True), ensure_ascii=False)
    return text.encode("utf-8", "backslashreplace") + b"\n"


def trace_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if _FILE.search(p.name))


def read_records(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """Every whole record in the files; a torn last line (a killed writer) is skipped."""
    for path in paths:
        with path.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if isinstance(rec, dict) and rec.get("schema") == SCHEMA:
                    yield rec


class LabelStore:
    """Append-only labels for logged requests: ``{request_id, answer | score, time}`` lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def add(self, request_id: str, *, answer: str | None, score: float | None) -> None:
        line = json.dumps({"request_id": request_id, "answer": answer, "score": score,
                           "time": time.time()})  # fmt: skip
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")
                f.flush()

    def read(self) -> dict[str, dict[str, Any]]:
        """The label of each request: its latest answer and its latest score (a score given
        after an answer does not erase it)."""
        labels: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if isinstance(rec, dict) and isinstance(rec.get("request_id"), str):
                    label = labels.setdefault(rec["request_id"], {})
                    label.update({k: v for k, v in rec.items() if v is not None})
        return labels


def question_from_record(rec: dict[str, Any], label: dict[str, Any] | None) -> ReplayQuestion:
    """A replay environment from one record: probes by depth, chunk costs, final answers."""
    chunk = int(rec["chunk_tokens"])
    probes: dict[tuple[int, int], str | None] = {
        (p["branch"], p["depth"]): p.get("answer") for p in rec.get("probes", [])
    }
    branches = []
    for b in rec["branches"]:
        depth = len(b["chunks"])
        if depth == 0:  # started, then aborted before its first boundary: nothing to replay
            continue
        answers = tuple(probes.get((b["id"], d)) for d in range(1, depth))
        chunks = tuple(int(n) for n in b["chunks"])
        confidences = tuple(ConfidenceSignals(*map(float, c)) for c in b.get("confidence") or ())
        branches.append(RecordedBranch(answers, sum(chunks), b.get("answer"), chunks,
                                       confidences=confidences))  # fmt: skip
    gold = label.get("answer") if label else rec.get("label")
    source = "feedback" if label and label.get("answer") is not None else "gold"
    if gold is None:  # no label: the full exploration's majority stands in (a pseudo-label)
        finals = [b.final_answer for b in branches if b.final_answer is not None]
        gold = majority((a, answer_key(a)) for a in finals)
        source = "pseudo" if gold is not None else "none"
    return ReplayQuestion(
        id=str(rec["request_id"]),
        question=json.dumps(rec.get("messages")) if rec.get("messages") is not None else "",
        label=gold,
        branches=tuple(branches),
        chunk_tokens=chunk,
        label_source=source,
    )


def questions_from_traces(
    records: Sequence[dict[str, Any]], *, source: str = "", labels_path: Path | None = None
) -> list[ReplayQuestion]:
    """Replay environments from trace records (exploration records replay completely)."""
    labels = LabelStore(labels_path).read() if labels_path is not None else {}
    return [question_from_record(r, labels.get(str(r.get("request_id")))) for r in records]
