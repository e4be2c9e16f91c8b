"""The gate refuses each kind of hostile controller file and accepts a good one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tts_proxy.controllers.gate import check_file, static_problems
from tts_proxy.controllers.sandbox import Limits as SandboxLimits

GOOD = '''
from tts_proxy.actions import Answer, Branch, Continue
from tts_proxy.controllers.base import Controller, interpolate


class Widening(Controller):
    """Self-consistency whose width grows with beta."""

    name = "widening"

    def decide(self, view):
        width = 1 + round(interpolate(0, 7, self.beta))
        if len(view.branches) < width:
            return [Branch(width - len(view.branches), to_end=True)]
        running = [Continue(b.id, to_end=True) for b in view.active]
        return running or [Answer()]
'''

LIMITS = SandboxLimits(cpu_seconds=30, memory_bytes=2 << 30, wall_seconds=60)


def write(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "candidate.py"
    path.write_text(source)
    return path


def test_a_good_file_passes_with_costs_that_grow(tmp_path: Path) -> None:
    result = check_file(write(tmp_path, GOOD), limits=LIMITS)
    assert result.ok, result.reason
    costs = result.report["monotone_costs"]
    assert costs == sorted(costs) and costs[0] < costs[-1]


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("import os\n" + GOOD, "import of 'os'"),
        ("from subprocess import run\n" + GOOD, "import from 'subprocess'"),
        (GOOD + "\nDATA = open('/etc/passwd').read()\n", "use of 'open'"),
        (GOOD + "\nX = eval('1 + 1')\n", "use of 'eval'"),
        (GOOD + "\nX = ().__class__.__bases__\n", "access to '__class__'"),
        (GOOD + "\nX = getattr(Widening, 'name')\n", "use of 'getattr'"),
        ("def broken(:\n", "syntax error"),
    ],
)
def test_static_check_names_the_problem(source: str, why: str) -> None:
    problems = static_problems(source)
    assert any(why in p for p in problems), problems


def test_an_endless_loop_is_stopped_by_the_limits(tmp_path: Path) -> None:
    source = GOOD.replace(
        "        width = 1", "        while True:\n            pass\n        width = 1"
    )
    limits = SandboxLimits(cpu_seconds=5, memory_bytes=2 << 30, wall_seconds=30)
    result = check_file(write(tmp_path, source), limits=limits)
    assert not result.ok
    assert "CPU-time" in result.reason, result.reason


def test_a_ten_gigabyte_list_is_stopped_by_the_memory_limit(tmp_path: Path) -> None:
    result = check_file(
        write(tmp_path, GOOD + "\nHOARD = [0] * ((10 << 30) // 8)\n"), limits=LIMITS
    )
    assert not result.ok
    assert "memory" in result.reason.lower(), result.reason


def test_a_map_that_spends_less_with_more_beta_is_refused(tmp_path: Path) -> None:
    source = GOOD.replace("interpolate(0, 7, self.beta)", "interpolate(7, 0, self.beta)")
    result = check_file(write(tmp_path, source), limits=LIMITS)
    assert not result.ok
    assert "cost falls as beta grows" in result.reason, result.reason


def test_a_controller_that_raises_is_refused_with_the_error(tmp_path: Path) -> None:
    source = GOOD.replace("        width = 1", "        raise KeyError('boom')\n        width = 1")
    result = check_file(write(tmp_path, source), limits=LIMITS)
    assert not result.ok and "KeyError" in result.reason, result.reason


def test_a_file_without_a_controller_is_refused(tmp_path: Path) -> None:
    result = check_file(write(tmp_path, "import math\nX = math.pi\n"), limits=LIMITS)
    assert not result.ok and "no Controller subclass" in result.reason, result.reason
