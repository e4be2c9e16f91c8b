"""The embedded vLLM's watchdog, with a stand-in command (a process with a child of its own):
the command's whole tree goes when the lifeline closes, when the watchdog is killed, or on a
stop signal; the watchdog ends with the command's status when the command ends first."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import psutil
import pytest

pytestmark = pytest.mark.timeout(120)
# A parent that starts a child and both sleep: vLLM's api server and its engine core.
TREE = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); time.sleep(600)"  # noqa: E501


@pytest.fixture
def kept() -> Iterator[tuple[subprocess.Popen[bytes], list[psutil.Process]]]:
    watchdog = subprocess.Popen(
        [sys.executable, "-m", "tts_proxy.embedded.watchdog", "--grace", "2", "--",
         sys.executable, "-c", TREE],
        stdin=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    tree: list[psutil.Process] = []
    while len(tree) < 2:
        tree = psutil.Process(watchdog.pid).children(recursive=True)
    yield watchdog, tree
    if watchdog.poll() is None:
        watchdog.kill()
    for process in tree:
        if process.is_running():
            process.kill()


def assert_gone(tree: list[psutil.Process]) -> None:
    _, alive = psutil.wait_procs(tree, timeout=15)
    assert not alive


def test_closing_the_lifeline_stops_the_whole_tree(
    kept: tuple[subprocess.Popen[bytes], list[psutil.Process]],
) -> None:
    watchdog, tree = kept
    assert watchdog.stdin is not None
    watchdog.stdin.close()
    assert_gone(tree)
    assert watchdog.wait(15) == 0  # a stop it was asked for


def test_a_killed_watchdog_takes_the_command_with_it(
    kept: tuple[subprocess.Popen[bytes], list[psutil.Process]],
) -> None:
    watchdog, tree = kept
    watchdog.kill()
    assert_gone(tree[:1])  # PR_SET_PDEATHSIG: the command itself is sent SIGTERM


def test_a_stop_signal_stops_the_whole_tree(
    kept: tuple[subprocess.Popen[bytes], list[psutil.Process]],
) -> None:
    watchdog, tree = kept
    watchdog.send_signal(signal.SIGTERM)
    assert_gone(tree)


def test_the_watchdog_ends_with_its_command() -> None:
    watchdog = subprocess.Popen(
        [sys.executable, "-m", "tts_proxy.embedded.watchdog", "--", sys.executable, "-c",
         "raise SystemExit(3)"],
        stdin=subprocess.PIPE,  # held open: the lifeline
    )  # fmt: skip
    assert watchdog.wait(60) == 3
