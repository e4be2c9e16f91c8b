"""Where replays run: worker processes measure exactly what this process does, a run with two
workers ships from a history exactly what a run with one does, and a worker's death is an
error that says what to do."""

from __future__ import annotations

import json
import os
import shutil
from functools import partial
from pathlib import Path

import pytest

from tests.discovery.conftest import two_models
from tts_proxy.controllers.base import Controller
from tts_proxy.discovery import families
from tts_proxy.discovery.curves import REPORT_BETAS
from tts_proxy.discovery.environments import load_environment, split_environments
from tts_proxy.discovery.history import Candidate
from tts_proxy.discovery.loop import DiscoverOptions, Discovery
from tts_proxy.discovery.shipping import data_class
from tts_proxy.discovery.workers import InProcess, Processes, Task, builtin
from tts_proxy.errors import WorkerLostError


def test_worker_processes_measure_the_same_curves_as_this_process(tmp_path: Path) -> None:
    envs = tuple(load_environment(p) for p in two_models(tmp_path))
    searched = Candidate(id=7, round=0, proposer="tpe", status="ok",
                         params=families.builtin_params("probe_exit"))  # fmt: skip
    tasks = [
        Task(partial(builtin, "cmc"), envs, REPORT_BETAS, 3, 0, 16),
        Task(partial(data_class, searched), envs[1:], (0.0, 0.5, 1.0), 2, 5, 8),
        Task(partial(builtin, "sc"), envs, (0.2, 0.9), 2, 1, 16),
    ]
    here = InProcess().curves(tasks)
    pool = Processes(2)
    try:
        there = pool.curves(tasks)
    finally:
        pool.close()
    assert [c.to_json() for c in there] == [c.to_json() for c in here]
    assert [c.faults for c in there] == [c.faults for c in here]
    assert [name for name, _ in there[0].per_environment] == [e.name for e in envs]


def shipped(root: Path) -> tuple[dict[str, object], dict[str, object]]:
    """The controller document and the report, less what names the run's files and time."""
    doc = json.loads((root / "controllers" / "discovered.json").read_text())
    report = json.loads((root / "reports" / "discovered.json").read_text())
    doc["description"] = doc["description"].split("\n", 1)[1]  # its first line has the date
    for key in ("file", "created"):
        report.pop(key)
    report["search"].pop("history")
    return doc, report


def test_two_workers_ship_from_a_history_what_one_worker_ships(tmp_path: Path) -> None:
    split = split_environments(two_models(tmp_path / "data"), held_out=["model-b"])

    def options(root: Path, workers: int) -> DiscoverOptions:
        return DiscoverOptions(out=root / "controllers", reports=root / "reports", rounds=2,
                               trials=2, repeats=1, final_repeats=2, report_repeats=2,
                               workers=workers)  # fmt: skip

    one = options(tmp_path / "one", 1)
    Discovery(split, one).run()
    # The same search, with what shipping measured left out: two workers measure it again.
    two = options(tmp_path / "two", 2)
    two.history_path.parent.mkdir(parents=True)
    lines = one.history_path.read_text().splitlines()
    searched = [x for x in lines if not ('"kind":"final"' in x or '"final":true' in x)]
    assert len(searched) < len(lines)
    two.history_path.write_text("\n".join(searched) + "\n")
    shutil.copy(one.reports / "discovered.optuna.db", two.reports / "discovered.optuna.db")
    Discovery(split, two).run()
    assert shipped(tmp_path / "two") == shipped(tmp_path / "one")


def _dies() -> type[Controller]:
    os._exit(3)  # as a worker killed mid-task


def test_a_worker_that_dies_mid_task_stops_the_run_with_a_clear_error(tmp_path: Path) -> None:
    envs = tuple(load_environment(p) for p in two_models(tmp_path))
    pool = Processes(2)
    try:
        with pytest.raises(WorkerLostError, match="resume from the history"):
            pool.curves([Task(_dies, envs, (0.0,), 1, 0, 16)])
    finally:
        pool.close()
