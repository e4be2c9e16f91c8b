"""Answer keys and grades of replay data, computed once per machine and kept on disk.

Keying an answer can need the parser (1-300 ms; up to the workers' time limit for a hostile
one), and grading an answer against the gold answer can need ``verify``. A replay file holds
thousands of distinct answers (4,397 in the Qwen3-0.6B AIME24 file), so its first read keys
every recorded answer and grades every (answer, label) pair on every core, with a progress bar,
and stores the results under the cache directory in a file named after the versions they
depend on (math-verify's and ``tts_proxy/answers``' sources). Later reads take them from there.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import ClassVar

from tts_proxy import answers
from tts_proxy.answers.grading import compute_grades
from tts_proxy.answers.keys import compute_keys
from tts_proxy.embedded.model import cache_dir
from tts_proxy.replay.environment import RecordedBranch, ReplayQuestion

log = logging.getLogger(__name__)


class _Stored:
    """What the cache file held when last read or written (to write only when it grows)."""

    keys: ClassVar[dict[str, str]] = {}
    grades: ClassVar[dict[tuple[str, str], bool]] = {}
    loaded: ClassVar[bool] = False


def cache_file() -> Path:
    """Where this machine keeps the keys and grades (named after what they depend on)."""
    digest = hashlib.sha256(importlib.metadata.version("math-verify").encode())
    for source in sorted(Path(answers.__file__).parent.glob("*.py")):
        digest.update(source.name.encode() + source.read_bytes())
    return cache_dir() / "answer-keys" / f"{digest.hexdigest()[:16]}.json"


def _load() -> None:
    if _Stored.loaded:
        return
    try:
        stored = json.loads(cache_file().read_text())
        keys = dict(stored["keys"])
        grades = {(str(a), str(g)): bool(ok) for a, g, ok in stored["grades"]}
    except (OSError, ValueError, KeyError, TypeError):
        keys, grades = {}, {}
    _Stored.keys, _Stored.grades, _Stored.loaded = keys, grades, True
    answers.remember_keys(keys)
    answers.remember_grades(grades)


def _write(keys: dict[str, str], grades: dict[tuple[str, str], bool]) -> None:
    _Stored.keys, _Stored.grades = keys, grades
    path = cache_file()
    rows = [[a, g, ok] for (a, g), ok in grades.items()]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"keys": keys, "grades": rows}))
        tmp.replace(path)  # atomic: concurrent writers leave one whole file
    except OSError as exc:  # a read-only cache (the sandbox): computed again next time
        log.warning("answer key cache not written (%s)", exc)


def _recorded(branch: RecordedBranch) -> Iterable[str]:
    yield from (a for a in branch.probe_answers if a is not None)
    if branch.final_answer is not None:
        yield branch.final_answer


def _keyed(branch: RecordedBranch, keys: dict[str, str]) -> RecordedBranch:
    probe_keys = tuple(None if a is None else keys[a] for a in branch.probe_answers)
    final = None if branch.final_answer is None else keys[branch.final_answer]
    return dataclasses.replace(branch, probe_keys=probe_keys, final_key=final)


def prime_answer_keys(
    questions: Sequence[ReplayQuestion], *, source: str = "replay data"
) -> list[ReplayQuestion]:
    """The questions with every recorded answer's key filled in, and every (answer, label)
    pair graded: from the disk cache, else computed on every core and stored."""
    _load()
    recorded = {a for q in questions for b in q.branches for a in _recorded(b)}
    missing = recorded - _Stored.keys.keys()
    keys = _Stored.keys
    if missing:
        keys = keys | compute_keys(sorted(missing), progress=f"answer keys of {source}")
        answers.remember_keys(keys)
        _write(keys, _Stored.grades)
    pairs = {
        (a, q.label) for q in questions if q.label is not None for b in q.branches
        for a in _recorded(b)
    }  # fmt: skip
    compute_grades(sorted(pairs), progress=f"grades of {source}")
    save_grades()
    return [
        dataclasses.replace(q, branches=tuple(_keyed(b, keys) for b in q.branches))
        for q in questions
    ]


def save_grades() -> None:
    """Store the grades computed since the cache was read (no-op when there are none)."""
    _load()
    known = answers.known_grades()
    if len(known) > len(_Stored.grades):
        _write(_Stored.keys, _Stored.grades | known)
