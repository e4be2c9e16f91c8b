"""A disk cache of canonical answer keys and grades for replay data.

Parsing an answer with math-verify costs about 10 ms; a replay file holds thousands of
distinct answers (4,397 in the Qwen3-0.6B AIME24 file: 30 s), and grading an answer against
the gold answer parses both and runs ``verify`` (tens of ms for symbolic answers). Both depend
only on the texts, math-verify's version and ``tts_proxy/answers.py``, so they are stored once
per machine, under the cache directory, in a file named after those versions: keys for every
recorded answer when a file is first read, grades as evaluations compute them.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from tts_proxy import answers
from tts_proxy.embedded.model import cache_dir
from tts_proxy.replay.environment import ReplayQuestion

_SEPARATOR = "\x00"  # joins (answer, gold) into one JSON key; absent from answer texts


class _Stored:
    """What the cache file held when last read or written (to write only when it grows)."""

    keys: ClassVar[dict[str, str]] = {}
    grades: ClassVar[dict[str, bool]] = {}
    loaded: ClassVar[bool] = False


def _cache_file() -> Path:
    source = Path(answers.__file__).read_bytes()
    version = importlib.metadata.version("math-verify")
    tag = hashlib.sha256(source + version.encode()).hexdigest()[:16]
    return cache_dir() / "answer-keys" / f"{tag}.json"


def _load() -> None:
    if _Stored.loaded:
        return
    try:
        stored = json.loads(_cache_file().read_text())
        _Stored.keys, _Stored.grades = dict(stored["keys"]), dict(stored["grades"])
    except (OSError, ValueError, KeyError, TypeError):
        _Stored.keys, _Stored.grades = {}, {}
    _Stored.loaded = True
    answers.remember_keys(_Stored.keys)
    answers.remember_grades({_split(p): ok for p, ok in _Stored.grades.items()})


def _split(pair: str) -> tuple[str, str]:
    answer, gold = pair.split(_SEPARATOR, 1)
    return answer, gold


def _write(keys: dict[str, str], grades: dict[str, bool]) -> None:
    path = _cache_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"keys": keys, "grades": grades}))
    tmp.replace(path)  # atomic: concurrent writers leave one whole file
    _Stored.keys, _Stored.grades = keys, grades


def _recorded(questions: Iterable[ReplayQuestion]) -> set[str]:
    found: set[str] = set()
    for q in questions:
        for b in q.branches:
            found.update(a for a in b.probe_answers if a is not None)
            if b.final_answer is not None:
                found.add(b.final_answer)
    return found


def prime_answer_keys(questions: Iterable[ReplayQuestion]) -> None:
    """Make every recorded answer's key known: from the disk cache, else computed and stored."""
    _load()
    missing = _recorded(questions) - _Stored.keys.keys()
    if missing:
        new = {a: answers.answer_key(a) for a in missing}
        answers.remember_keys(new)
        _write(_Stored.keys | new, _Stored.grades)


def save_grades() -> None:
    """Store the grades computed since the cache was read (no-op when there are none)."""
    _load()
    known = answers.known_grades()
    if len(known) > len(_Stored.grades):
        grades = {a + _SEPARATOR + g: ok for (a, g), ok in known.items()}
        _write(_Stored.keys, _Stored.grades | grades)
