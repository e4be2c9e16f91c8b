"""The tts-proxy command line, run as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import shared_file
from tts_proxy.embedded.server import free_port


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


def test_counts_below_one_are_refused_by_flag(tmp_path: Path) -> None:
    # --repeats 0 once printed accuracy 0.0: a figure of nothing, not an error.
    for args in (["replay", "--data", "x", "--controller", "sc", "--beta", "1", "--repeats", "0"],
                 ["replay", "--data", "x", "--controller", "sc", "--beta", "1", "--pool", "-2"],
                 ["discover", "--traces", "x", "--workers", "0"],
                 ["collect", "--dataset", "x", "--width", "many"]):  # fmt: skip
        done = run_cli(*args)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert f"argument {args[-2]}" in done.stderr, done.stderr


def test_a_trial_storage_that_cannot_be_opened_fails_at_start_without_its_password(
    tmp_path: Path,
) -> None:
    path = shared_file("autotts", "Qwen3-0.6B", "aime24.json")
    storage = "postgresql+psycopg://tts:hunter2@127.0.0.1:1/trials"  # nothing listens on 1
    done = run_cli("discover", "--traces", str(path), "--storage", storage,
                   "--reports", str(tmp_path), "--out", str(tmp_path))  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "trial storage postgresql+psycopg://... cannot be opened" in done.stderr
    assert "hunter2" not in done.stderr and "Warning" not in done.stderr


def test_serve_with_an_unknown_default_controller_stops_before_starting_anything(
    tmp_path: Path,
) -> None:
    for backend in (["--backend-url", f"http://127.0.0.1:{free_port()}"], []):  # [] embeds vLLM
        done = run_cli("serve", *backend, "--port", str(free_port()), "--trace-dir",
                       str(tmp_path), "--default-controller", "nope")  # fmt: skip
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert "the default controller 'nope' is not one of them" in done.stderr
        assert "available: asc, cmc" in done.stderr and "starting vLLM" not in done.stderr
