"""A disk cache of canonical answer keys for replay data.

Parsing an answer with math-verify costs about 10 ms; a replay file holds thousands of
distinct answers (4,398 in the Qwen3-0.6B AIME24 file: 30 s). Keys depend only on the answer
text, math-verify's version and ``tts_proxy/answers.py``, so they are stored once per machine,
under the cache directory, in a file named after those versions.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from collections.abc import Iterable
from pathlib import Path

from tts_proxy import answers
from tts_proxy.embedded.model import cache_dir
from tts_proxy.replay.environment import ReplayQuestion


def _cache_file() -> Path:
    source = Path(answers.__file__).read_bytes()
    version = importlib.metadata.version("math-verify")
    tag = hashlib.sha256(source + version.encode()).hexdigest()[:16]
    return cache_dir() / "answer-keys" / f"{tag}.json"


def _answers(questions: Iterable[ReplayQuestion]) -> set[str]:
    found: set[str] = set()
    for q in questions:
        for b in q.branches:
            found.update(a for a in b.probe_answers if a is not None)
            if b.final_answer is not None:
                found.add(b.final_answer)
    return found


def prime_answer_keys(questions: Iterable[ReplayQuestion]) -> None:
    """Make every recorded answer's key known: from the disk cache, else computed and stored."""
    path = _cache_file()
    try:
        stored: dict[str, str] = json.loads(path.read_text())
    except (OSError, ValueError):
        stored = {}
    answers.remember_keys(stored)
    missing = _answers(questions) - stored.keys()
    if not missing:
        return
    new = {a: answers.answer_key(a) for a in missing}
    answers.remember_keys(new)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(stored | new))
    tmp.replace(path)  # atomic: concurrent writers leave one whole file
