"""The first read of replay data keys and grades every recorded answer (on every core) and
keeps the results on disk; hostile recorded answers do not stop it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.answers.corpus import HOSTILE

pytestmark = pytest.mark.timeout(600)


def hostile_replay_file(path: Path) -> Path:
    """AutoTTS-format data whose branches answer with the hostile corpus."""
    questions = []
    for q in range(3):
        branches = []
        for i, answer in enumerate(HOSTILE):
            probes = [HOSTILE[(i + k) % len(HOSTILE)] for k in range(3)] + [answer]
            branches.append([probes, 500 * len(probes) + 17, answer])
        questions.append({"question": f"q{q}", "gold_answer": "\\frac{9\\sqrt{23}}{23}",
                          "probe_freq": 500, "each_branch": branches})  # fmt: skip
    path.write_text(json.dumps(questions))
    return path


def replay(data: Path, cache: Path, controller: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "tts_proxy", "replay", "--data", str(data), "--controller",
         controller, "--beta", "0.5", "--repeats", "2", "--json"],
        env=os.environ | {"TTS_CACHE_DIR": str(cache)}, capture_output=True, text=True,
        timeout=500, check=True,
    )  # fmt: skip
    summary: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return summary


def test_replay_of_hostile_recorded_answers_completes_and_caches_its_keys(
    tmp_path: Path,
) -> None:
    data = hostile_replay_file(tmp_path / "hostile.json")
    cache = tmp_path / "cache"
    first = replay(data, cache, "cmc")
    assert first["questions"] == 3 and first["accuracy"] == 0.0
    (stored,) = (cache / "answer-keys").glob("*.json")
    keys = json.loads(stored.read_text())["keys"]
    assert keys["2025!"] == "factorial(2025)" and keys["9^{9^{9}}"] == "9**(9**9)"
    again = replay(data, cache, "cmc")  # from the cache: the same figures
    assert (again["accuracy"], again["tokens_per_question"]) == (
        first["accuracy"],
        first["tokens_per_question"],
    )
