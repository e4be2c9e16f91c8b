"""The tts-proxy command line, run as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import shared_file


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tts_proxy", *args], capture_output=True, text=True, timeout=300
    )


def test_replay_prints_one_json_line(tmp_path: Path) -> None:
    data = [{"question": "q", "gold_answer": "7", "probe_freq": 500,
             "each_branch": [[["7"], 900, "7"], [["3"], 800, "3"], [["7"], 600, "7"]]}]  # fmt: skip
    path = tmp_path / "env.json"
    path.write_text(json.dumps(data))
    done = run_cli("replay", "--data", str(path), "--controller", "sc", "--beta", "1", "--json",
                   "--repeats", "4")  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["questions"] == 1 and summary["repeats"] == 4
    assert summary["accuracy"] == 1.0  # 2 of 3 branches say 7
    assert summary["tokens_per_question"] == 900 + 800 + 600


def test_replay_on_shared_data() -> None:
    path = shared_file("autotts", "Qwen3-4B", "aime24.json")
    done = run_cli("replay", "--data", str(path), "--controller", "cmc", "--beta", "0.5",
                   "--json", "--repeats", "2")  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert 0.0 <= summary["accuracy"] <= 1.0 and summary["questions"] == 30


def test_unknown_controller_and_bad_beta_fail_clearly(tmp_path: Path) -> None:
    done = run_cli("replay", "--data", str(tmp_path / "x"), "--controller", "nope", "--beta", "0.5")
    assert done.returncode == 2 and "unknown controller 'nope'" in done.stderr
    assert "Traceback" not in done.stderr
    done = run_cli("replay", "--data", "x", "--controller", "sc", "--beta", "7")
    assert done.returncode == 2 and "beta must be a number in [0, 1]" in done.stderr
