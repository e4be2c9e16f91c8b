"""Trials shared through Optuna's storage: two workers on one SQLite file, a killed worker,
a real PostgreSQL server on loopback, and a discovery run with two workers."""

from __future__ import annotations

import multiprocessing
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

from tests.discovery.conftest import two_models
from tts_proxy.controllers import ControllerRegistry
from tts_proxy.discovery.curves import SEARCH_BETAS, measure
from tts_proxy.discovery.environments import Environment, load_environment, split_environments
from tts_proxy.discovery.history import History
from tts_proxy.discovery.loop import BUILTINS, DiscoverOptions, Discovery
from tts_proxy.discovery.trials import Job, open_study, run_round, run_trials, study_name
from tts_proxy.embedded.server import free_port

COMPLETE = optuna.trial.TrialState.COMPLETE
RUNNING = optuna.trial.TrialState.RUNNING


def environments(root: Path) -> list[Environment]:
    return [load_environment(path) for path in two_models(root)]


def job(url: str, envs: list[Environment], trials: int) -> Job:
    registry = ControllerRegistry()
    refs = {name: measure(registry.get(name), envs, SEARCH_BETAS, repeats=2, width=16).to_json()
            for name in ("sc", "cmc")}  # fmt: skip
    return Job(url=url, study="shared", seed=0, sampler_seed=0,
               environments=tuple((str(e.path), e.indices) for e in envs), references=refs,
               repeats=2, width=16, trials=trials, round=0)  # fmt: skip


def finished(url: str) -> list[optuna.trial.FrozenTrial]:
    return open_study(url, "shared", 0).get_trials(states=(COMPLETE,))


def test_two_workers_share_one_sqlite_storage(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'search.db'}"
    envs = environments(tmp_path)
    assert run_round(job(url, envs, 4), 2, envs) == 4
    done = finished(url)
    assert len(done) == 4
    assert len({t.user_attrs["worker"] for t in done}) == 2  # two processes told trials
    assert all(t.user_attrs["curve"]["points"] and t.value is not None for t in done)
    assert run_trials(job(url, envs, 1), envs) == 1  # a later worker goes on with the study
    assert len(finished(url)) == 5


def test_a_killed_worker_loses_only_its_trial_in_flight(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'search.db'}"
    envs = environments(tmp_path)
    work = job(url, envs, 1000)
    worker = multiprocessing.get_context("spawn").Process(target=run_trials, args=(work,))
    worker.start()
    deadline = time.monotonic() + 300
    while len(finished(url)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert worker.pid is not None
    os.kill(worker.pid, signal.SIGKILL)
    worker.join()
    told = len(finished(url))
    assert told >= 2
    trials = open_study(url, "shared", 0).get_trials()
    assert sum(t.state == RUNNING for t in trials) <= 1  # at most the one in flight
    assert run_trials(job(url, envs, 1), envs) == 1
    assert len(finished(url)) == told + 1  # nothing told was lost


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A PostgreSQL server (Debian's package, installed by `make test`) on a loopback port."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        pytest.skip("no PostgreSQL server binaries (Debian's postgresql package)")
    bin_dir = found[-1].parent
    data = Path(tempfile.mkdtemp(prefix="tts-proxy-pg-"))  # not under pytest's root-only tree
    prefix: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root: as the package's user
        user = pwd.getpwnam("postgres")
        os.chown(data, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    run = [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-w"]
    subprocess.run([*prefix, str(bin_dir / "initdb"), "-D", str(data / "db"), "-U", "postgres",
                    "--auth=trust"], check=True, capture_output=True)  # fmt: skip
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {data}"
    subprocess.run([*run, "-o", options, "-l", str(data / "log"), "start"], check=True,
                   capture_output=True)  # fmt: skip
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*run, "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


def test_two_workers_share_a_postgresql_storage(tmp_path: Path, postgres: str) -> None:
    envs = environments(tmp_path)
    assert run_round(job(postgres, envs, 2), 2, envs) == 2
    done = finished(postgres)
    assert len(done) == 2 and len({t.user_attrs["worker"] for t in done}) == 2


def test_discovery_with_two_workers_ships_and_every_trial_is_in_its_history(
    tmp_path: Path,
) -> None:
    split = split_environments(two_models(tmp_path / "data"), held_out=["model-b"])
    options = DiscoverOptions(out=tmp_path / "controllers", reports=tmp_path / "reports",
                              rounds=2, trials=2, repeats=1, final_repeats=2, report_repeats=2,
                              workers=2)  # fmt: skip
    discovery = Discovery(split, options)
    report = discovery.run()
    assert (tmp_path / "controllers" / "discovered.json").exists() and report["held_out"]
    url = f"sqlite:///{(tmp_path / 'reports' / 'discovered.optuna.db').resolve()}"
    study = open_study(
        url, study_name("discovered", discovery.setup().model_dump(by_alias=True)), 0
    )
    numbers = {t.number for t in study.get_trials(states=(COMPLETE,))}
    history = History(options.history_path, discovery.setup())
    searched = [c for c in history.candidates if c.proposer in ("tpe", "anchor")]
    assert len(numbers) == 4 and {c.trial for c in searched} == numbers
    assert set(BUILTINS) <= {r.name for r in history.references}
