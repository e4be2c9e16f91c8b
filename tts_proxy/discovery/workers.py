"""Where discovery's replays run: in this process, or shared out over worker processes.

A ``Task`` is one curve to measure. ``InProcess`` measures tasks one after another; with
``discover --workers N``, ``Processes`` shares them out over N spawned processes -- one
environment of one task at a time, so that two tasks keep two cores busy -- and puts each
curve together from its environments' points in the order asked. The figures are the same
either way: every replay is seeded, and a memo (``curves.Memo``) only skips replays whose
decisions are known. The processes also run the parameter search's trials
(``trials.run_round``). A worker loads an environment the first time a task names it and
keeps it for the run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Protocol, TypeVar

from tts_proxy.controllers import builtin_controllers
from tts_proxy.controllers.base import Controller
from tts_proxy.discovery.curves import Curve, EnvironmentPoints, combine, measure_environment
from tts_proxy.discovery.environments import Environment, load_environment
from tts_proxy.errors import WorkerLostError

T = TypeVar("T")
R = TypeVar("R")

EnvironmentSpec = tuple[str, tuple[int, ...]]  # a file, and the questions taken from it


def spec_of(env: Environment) -> EnvironmentSpec:
    return (str(env.path), env.indices)


_LOADED: dict[EnvironmentSpec, Environment] = {}  # this process's, by what they were loaded from


def loaded(spec: EnvironmentSpec) -> Environment:
    """The environment ``spec`` names, loaded on first use in this process."""
    env = _LOADED.get(spec)
    if env is None:
        env = _LOADED[spec] = load_environment(Path(spec[0]), spec[1])
    return env


def builtin(name: str) -> type[Controller]:
    """A built-in controller by name (for ``Task.controller``: ``partial(builtin, "sc")``)."""
    return _builtins()[name]


@functools.cache
def _builtins() -> dict[str, type[Controller]]:
    return builtin_controllers()  # scans the package's modules: once per process


@dataclass(frozen=True, slots=True)
class Task:
    """One curve to measure. ``controller`` makes the controller's class; a worker process
    is handed it, so it must pickle: a module-level function, or a ``functools.partial`` of
    one over picklable arguments (a built-in's name, a history's candidate, a file's path)."""

    controller: Callable[[], type[Controller]]
    environments: tuple[Environment, ...]
    betas: tuple[float, ...]
    repeats: int
    seed: int
    width: int


class Measurer(Protocol):
    """Measures curves: each task's, in the order given."""

    def curves(self, tasks: Sequence[Task]) -> list[Curve]: ...

    def close(self) -> None: ...


class InProcess:
    """Every task in this process, one after another."""

    def curves(self, tasks: Sequence[Task]) -> list[Curve]:
        out = []
        for t in tasks:
            cls = t.controller()
            per_env = [_points(cls, env, t) for env in t.environments]
            out.append(combine(per_env, t.betas))
        return out

    def close(self) -> None:
        return None


class Processes:
    """``n`` spawned processes (spawned: a forked copy of a process with threads can
    deadlock), kept for the whole run."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._pool = ProcessPoolExecutor(n, mp_context=get_context("spawn"))

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``fn`` over ``items`` in the processes (``fn`` and the items must pickle)."""
        try:
            return list(self._pool.map(fn, items))
        except BrokenProcessPool as exc:
            raise WorkerLostError(
                "a discovery worker process died (killed, or out of memory); run the same "
                "command again to resume from the history"
            ) from exc

    def curves(self, tasks: Sequence[Task]) -> list[Curve]:
        units = [(_bare(t), spec_of(env)) for t in tasks for env in t.environments]
        measured = iter(self.map(_measure_unit, units))
        return [combine([next(measured) for _ in t.environments], t.betas) for t in tasks]

    def close(self) -> None:
        self._pool.shutdown()


def _points(cls: type[Controller], env: Environment, t: Task) -> EnvironmentPoints:
    return measure_environment(cls, env, t.betas, repeats=t.repeats, seed=t.seed,
                               width=t.width)  # fmt: skip


def _bare(t: Task) -> Task:
    """The task without its environments: a worker loads them from their files."""
    return Task(t.controller, (), t.betas, t.repeats, t.seed, t.width)


def _measure_unit(unit: tuple[Task, EnvironmentSpec]) -> EnvironmentPoints:
    task, spec = unit
    return _points(task.controller(), loaded(spec), task)


def measurer(workers: int) -> Measurer:
    """Where a run with ``workers`` processes measures."""
    return Processes(workers) if workers > 1 else InProcess()
