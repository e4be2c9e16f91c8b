"""Child processes for answer work that can take long, each call cut off at a hard limit.

math-verify's own timeouts use ``signal.alarm`` and work only in the main thread, and a
thread cannot be stopped, so the bound is a process: a pebble pool whose workers are forked
from a forkserver with sympy and math-verify already loaded. A call past ``timeout`` seconds
kills its worker (pebble starts another) and returns the caller's fallback; so does a worker
that dies (its address space is capped, so ``10^{10^{9}}`` cannot take the machine's memory).

``processes=0`` runs calls in the calling process instead, unbounded: for a process that is
itself the bound (the controller sandbox, a worker of this pool).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

import pebble
from tqdm import tqdm

T = TypeVar("T")
DEFAULT_TIMEOUT = 1.0
DEFAULT_MEMORY_BYTES = 2 << 30
_PRELOAD = ["tts_proxy.answers.symbolic"]


def _start_worker(memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    from tts_proxy.answers.symbolic import warm_up

    warm_up()


class AnswerWorkers:
    """A pool of answer workers: ``call`` (blocking), ``acall`` (awaitable), ``map``."""

    def __init__(
        self,
        processes: int = 1,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
    ) -> None:
        self.processes = processes
        self.timeout = timeout
        self.memory_bytes = memory_bytes
        self.cut_off = 0  # calls that ran past the limit or lost their worker
        self._pool: pebble.ProcessPool | None = None
        self._lock = threading.Lock()

    def _submit(self, fn: Callable[..., T], args: tuple[Any, ...]) -> Future[T]:
        with self._lock:
            if self._pool is None or not self._pool.active:
                if self._pool is not None:  # broken: its threads and workers go first
                    self._pool.stop()  # type: ignore[no-untyped-call]
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(_PRELOAD)
                self._pool = pebble.ProcessPool(
                    max_workers=self.processes,
                    initializer=_start_worker,
                    initargs=(self.memory_bytes,),
                    context=context,
                )
            return self._pool.schedule(fn, args=args, timeout=self.timeout)

    def _settled(self, future: Future[T], fallback: T) -> T:
        try:
            return future.result()
        except Exception:  # past the limit, a dead worker, or the call's own error
            self.cut_off += 1
            return fallback

    def call(self, fn: Callable[..., T], args: tuple[Any, ...], *, fallback: T) -> T:
        """``fn(*args)`` in a worker; ``fallback`` if it fails or runs past the limit."""
        if self.processes == 0:
            return fn(*args)
        return self._settled(self._submit(fn, args), fallback)

    async def acall(self, fn: Callable[..., T], args: tuple[Any, ...], *, fallback: T) -> T:
        """``call`` without blocking the event loop (a cancelled caller cancels the call)."""
        if self.processes == 0:
            return fn(*args)
        future = self._submit(fn, args)
        try:
            await asyncio.wait([asyncio.wrap_future(future)])
        except asyncio.CancelledError:  # nobody wants it: do not let it queue behind others
            future.cancel()
            raise
        return self._settled(future, fallback)

    def map(
        self,
        fn: Callable[..., T],
        calls: Sequence[tuple[Any, ...]],
        *,
        fallback: Callable[..., T],
        progress: str | None = None,
    ) -> list[T]:
        """``fn(*args)`` for each of ``calls`` on every worker at once; ``fallback(*args)`` for
        those that fail; a progress bar when ``progress`` labels one."""
        if self.processes == 0:
            return [fn(*args) for args in calls]
        futures = [self._submit(fn, args) for args in calls]
        bar = tqdm(total=len(futures), desc=progress, unit="answer", disable=progress is None)
        out: list[T] = []
        with bar:
            for args, future in zip(calls, futures, strict=True):
                out.append(self._settled(future, fallback(*args)))
                bar.update()
        return out

    def close(self) -> None:
        """Stop the workers (a later call starts them again)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()  # type: ignore[no-untyped-call]
            pool.join()


def all_cores() -> int:
    """Workers for a bulk job: every core this process may run on."""
    return max(1, len(os.sched_getaffinity(0)))


_shared = AnswerWorkers()


def shared() -> AnswerWorkers:
    """The process's answer workers (one by default; ``configure`` changes them)."""
    return _shared


def configure(processes: int, *, timeout: float = DEFAULT_TIMEOUT) -> AnswerWorkers:
    """Replace the process's answer workers (the old ones are stopped)."""
    global _shared
    old, _shared = _shared, AnswerWorkers(processes, timeout=timeout)
    old.close()
    return _shared
