"""The parameter search's trials, kept in Optuna's storage so that searches can share them.

The storage is a SQLite file beside the reports by default, or any SQLAlchemy URL -- a
PostgreSQL server when several machines search together. ``discover --workers N`` runs N
processes on one storage, each asking the shared TPE sampler for settings, measuring them on
the search set and telling its value back at once, with its curve as the trial's attribute.
A worker killed mid-trial loses that trial only: what it told is stored, and its unfinished
trial, whose heartbeat stops, is marked failed by the next worker that asks.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy.exc

from tts_proxy.discovery import families, objective, workers
from tts_proxy.discovery.curves import SEARCH_BETAS, Curve, measure
from tts_proxy.discovery.environments import Environment, load_environment

HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 30  # after this without a heartbeat a running trial is marked failed


def storage_url(storage: str | None, reports: Path, name: str) -> str:
    """The storage a search uses: as given, else ``reports/<name>.optuna.db`` (SQLite)."""
    if storage:
        return storage
    reports.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(reports / f'{name}.optuna.db').resolve()}"


def study_name(name: str, setup: dict[str, Any]) -> str:
    """One study per controller name and search setup: a storage that holds searches over
    other data or settings keeps them apart."""
    digest = hashlib.sha256(json.dumps(setup, sort_keys=True).encode()).hexdigest()[:12]
    return f"{name}-{digest}"


class StorageError(ValueError):
    """A trial storage that cannot be opened: a bad URL, a missing driver, a server down."""


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """The trial storage at ``url``, its schema created on first use; ``StorageError`` when
    it cannot be opened (the URL is shown without its password)."""
    engine: dict[str, Any] = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    try:
        with warnings.catch_warnings():  # heartbeats are "experimental": chosen, not news
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_SECONDS,
                grace_period=GRACE_SECONDS,
            )  # fmt: skip
    except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError) as exc:
        shown = url.split("://", 1)[0] + "://..." if "@" in url else url
        raise StorageError(f"the trial storage {shown} cannot be opened: {exc}") from exc


def open_study(url: str, name: str, seed: int) -> optuna.Study:
    """The shared study, created on first use. Its TPE sampler lies about trials still
    running (``constant_liar``), so concurrent workers do not all ask for the same point."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(url)
    sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=True)
    return optuna.create_study(
        study_name=name, storage=storage, sampler=sampler, direction="maximize",
        load_if_exists=True,
    )  # fmt: skip


def params_key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


@dataclass(frozen=True, slots=True)
class Job:
    """What one worker does: ``trials`` trials of round ``round`` (all picklable, so that a
    worker process can be handed it)."""

    url: str
    study: str
    seed: int  # of the search's orderings: the same for every worker, so values compare
    sampler_seed: int
    environments: tuple[tuple[str, tuple[int, ...]], ...]  # (path, indices) of the search set
    references: dict[str, Any]  # the built-ins' curves on the search set, as JSON
    repeats: int
    width: int
    trials: int
    round: int
    deadline: float | None = None  # time.time() after which no trial is started
    families: tuple[str, ...] = families.FAMILIES  # the families the sampler may choose


def run_trials(job: Job, environments: Sequence[Environment] | None = None) -> int:
    """Up to ``job.trials`` trials (none started past the deadline); the trials done. Run by
    ``Study.optimize``, whose heartbeat marks this worker's trial failed if it dies."""
    envs = environments or [load_environment(Path(p), idx) for p, idx in job.environments]
    refs = {name: Curve.from_json(c) for name, c in job.references.items()}
    study = open_study(job.url, job.study, job.sampler_seed)
    done = 0

    def trial_value(trial: optuna.Trial) -> float:
        nonlocal done
        start = time.perf_counter()
        params = families.suggest(trial, job.families)
        cls = families.controller_class(f"trial_{trial.number}", params)
        curve = measure(cls, envs, SEARCH_BETAS, repeats=job.repeats, seed=job.seed,
                        width=job.width)  # fmt: skip
        trial.set_user_attr("curve", curve.to_json())
        trial.set_user_attr("round", job.round)
        trial.set_user_attr("seconds", round(time.perf_counter() - start, 2))
        trial.set_user_attr("worker", os.getpid())
        done += 1
        return objective.gain(curve, refs)

    timeout = None if job.deadline is None else max(0.0, job.deadline - time.time())
    if timeout != 0.0:
        study.optimize(trial_value, n_trials=job.trials, timeout=timeout)
    return done


def _run_loaded(job: Job) -> int:
    """``run_trials`` in a worker process, on the environments it keeps loaded."""
    return run_trials(job, [workers.loaded(spec) for spec in job.environments])


def run_round(job: Job, pool: int | workers.Processes, environments: Sequence[Environment]) -> int:
    """The round's trials: in this process, or shared out over worker processes (a count:
    spawned for this round; ``Processes``: the run's).

    Queued trials (the anchors) run here first: handing one queued trial to exactly one
    worker needs row locks, which SQLite does not have."""
    study = open_study(job.url, job.study, job.sampler_seed)  # the schema, before workers
    queued = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,))
    first = min(len(queued), job.trials)
    done = run_trials(replace(job, trials=first), environments) if first else 0
    rest = job.trials - first
    n = pool.n if isinstance(pool, workers.Processes) else pool
    if rest <= 0 or n <= 1:
        return done + (run_trials(replace(job, trials=rest), environments) if rest > 0 else 0)
    shares = [rest // n + (i < rest % n) for i in range(n)]
    jobs = [replace(job, sampler_seed=job.sampler_seed + i, trials=share)
            for i, share in enumerate(shares) if share]  # fmt: skip
    if isinstance(pool, workers.Processes):
        return done + sum(pool.map(_run_loaded, jobs))
    with closing(workers.Processes(len(jobs))) as spawned:
        return done + sum(spawned.map(_run_loaded, jobs))
