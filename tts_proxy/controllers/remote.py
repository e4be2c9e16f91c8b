"""Running an untrusted controller file from the OS sandbox, one ``decide`` per round.

Each such file gets a sandboxed worker (``isolated serve``) holding the controller of every
search it serves; the proxy keeps ``RemoteController`` stand-ins that send the worker each
round's view delta and get its actions back (``wire``). The engine, the replay and the
accounting stay in the trusted process: the sandbox only decides. The pipes are read and
written by two threads per worker, so no call blocks the event loop (``adecide`` awaits a
future), and a reply is read with a length cap.

A call that takes longer than ``call_seconds`` kills the worker -- its searches end as a
controller fault, the engine answers by majority -- and the next search starts a new one; a
file whose workers keep dying is refused calls for a while instead of being restarted on
every request. With a ``deadline`` (the gate's wall-time limit) no call is made after it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import queue
import random
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, ClassVar

from tts_proxy.actions import Action
from tts_proxy.controllers.base import Controller, Limits
from tts_proxy.controllers.sandbox import LAUNCH_ENV, SERVE_LIMITS, command
from tts_proxy.controllers.sandbox import Limits as SandboxLimits
from tts_proxy.controllers.wire import DeltaEncoder, decode_actions
from tts_proxy.state import View

START_SECONDS = 60.0
RESTARTS_BEFORE_PAUSE = 5
PAUSE_SECONDS = 60.0
MAX_REPLY_BYTES = 1 << 20  # a reply (actions, an answer) is small; a longer line kills the worker
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class RemoteControllerError(Exception):
    """The sandboxed controller failed: it raised, sent garbage, or its worker died."""


Reply = concurrent.futures.Future[dict[str, Any]]


class _Worker:
    """One sandboxed process and its pipes: calls by id, replies read by a thread."""

    def __init__(self, filename: str, limits: SandboxLimits) -> None:
        self.filename = filename
        argv = ["-m", "tts_proxy.controllers.isolated", "serve",
                "--memory", str(limits.memory_bytes), "--cpu", str(limits.cpu_seconds)]  # fmt: skip
        self.process = subprocess.Popen(
            command(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=LAUNCH_ENV,
        )  # fmt: skip
        self.pending: dict[int, Reply] = {}
        self._ids = itertools.count()
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        threading.Thread(target=self._write, daemon=True).start()
        threading.Thread(target=self._read, daemon=True).start()

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, message: dict[str, Any]) -> Reply:
        future: Reply = concurrent.futures.Future()
        number = next(self._ids)
        self.pending[number] = future
        if not self.alive():
            future.set_exception(RemoteControllerError(f"{self.filename}: its worker ended"))
        self._outbox.put((json.dumps(message | {"id": number}) + "\n").encode())
        return future

    def kill(self) -> None:
        self._outbox.put(None)
        if self.alive():
            self.process.kill()

    def _ending(self) -> str:
        """How the worker ended, in words (the limits at work, mostly)."""
        try:
            code = self.process.wait(5)
        except subprocess.TimeoutExpired:
            return "stopped answering"
        signals = {
            9: "was killed (its CPU-time, memory or wall-time limit)",
            24: "ran out of its CPU-time limit",
            11: "crashed (a segmentation fault)",
        }
        signum = -code if code < 0 else code - 128 if code > 128 else 0  # bwrap: 128 + signal
        if signum:
            return signals.get(signum, f"was killed by signal {signum}")
        return f"exited with status {code}"

    def _write(self) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        while (line := self._outbox.get()) is not None:
            try:
                stdin.write(line)
                stdin.flush()
            except (OSError, ValueError):
                return

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        while line := stdout.readline(MAX_REPLY_BYTES + 1):
            if len(line) > MAX_REPLY_BYTES:
                self.kill()  # a reply that long is no reply: the worker is misbehaving
                break
            try:
                reply = json.loads(line)
                future = self.pending.pop(int(reply["id"]))
            except (ValueError, KeyError, TypeError):
                continue
            if not future.done():
                future.set_result(reply)
        gone = RemoteControllerError(f"{self.filename}: its sandboxed worker {self._ending()}")
        for future in list(self.pending.values()):
            if not future.done():
                future.set_exception(gone)
        self.pending.clear()


class SandboxedFile:
    """One untrusted controller's source and the sandboxed worker that runs it."""

    def __init__(
        self,
        source: str,
        filename: str,
        *,
        limits: SandboxLimits = SERVE_LIMITS,
        deadline: float | None = None,
    ) -> None:
        self.source = source
        self.filename = filename
        self.limits = limits
        self.call_seconds = limits.wall_seconds  # per call
        self.deadline = deadline  # time.monotonic() after which no call is made
        self.name: str | None = None  # the controller's name, once loaded
        self.closed = False
        self.restarts: list[float] = []
        self._worker: _Worker | None = None
        self._lock = threading.Lock()

    def _start(self) -> _Worker:
        """A worker with the file loaded (blocking; never on the event loop)."""
        if self.closed:
            raise RemoteControllerError(f"{self.filename}: no longer served")
        recent = [t for t in self.restarts if time.monotonic() - t < PAUSE_SECONDS]
        if len(recent) >= RESTARTS_BEFORE_PAUSE:
            raise RemoteControllerError(
                f"{self.filename}: its sandboxed worker died {len(recent)} times in "
                f"{PAUSE_SECONDS:.0f} s; calls are refused for a while"
            )
        self.restarts = [*recent, time.monotonic()]
        worker = _Worker(self.filename, self.limits)
        loaded = worker.send({"op": "load", "source": self.source, "filename": self.filename})
        try:
            reply = loaded.result(START_SECONDS)
        except concurrent.futures.TimeoutError:
            worker.kill()
            raise RemoteControllerError(f"{self.filename}: the sandbox did not start") from None
        except RemoteControllerError:
            worker.kill()
            raise
        name = reply.get("controller")
        if "error" in reply or not isinstance(name, str) or not _NAME.match(name):
            worker.kill()
            why = reply.get("error") or f"not a controller name: {str(name)[:80]!r}"
            raise RemoteControllerError(f"{self.filename}: {why}")
        self.name = name
        return worker

    def load(self) -> str:
        """Start the worker and load the file; the controller's name (blocking)."""
        self._running()
        assert self.name is not None
        return self.name

    def _running(self) -> _Worker:
        with self._lock:
            if self._worker is None or not self._worker.alive():
                self._worker = self._start()
            return self._worker

    def kill(self) -> None:
        """Stop the worker now (its searches fail; the next call starts another)."""
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.kill()

    def close(self) -> None:
        """Stop the worker for good: the file is no longer served."""
        self.closed = True
        self.kill()

    async def call(self, message: dict[str, Any]) -> dict[str, Any]:
        """One request to the worker, started if need be; past ``call_seconds`` it is killed."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise RemoteControllerError(f"{self.filename}: its time is up")
        worker = self._worker
        if worker is None or not worker.alive():
            worker = await asyncio.to_thread(self._running)
        future = asyncio.wrap_future(worker.send(message))
        try:
            reply = await asyncio.wait_for(future, self.call_seconds)
        except TimeoutError:
            self.kill()
            raise RemoteControllerError(
                f"{self.filename}: no answer within {self.call_seconds:g} s; its worker was stopped"
            ) from None
        if "error" in reply:
            raise RemoteControllerError(str(reply["error"])[:500])
        return reply

    def notify(self, message: dict[str, Any]) -> None:
        """A message with no reply wanted (a search's end), if a worker is running."""
        worker = self._worker
        if worker is not None and worker.alive():
            worker.send(message)


class RemoteController(Controller):
    """A search's stand-in for a controller that runs in the sandbox (``SandboxedFile``)."""

    sandboxed: ClassVar[SandboxedFile]

    def __init__(self, beta: float, limits: Limits, rng: random.Random | None = None) -> None:
        super().__init__(beta, limits, rng)
        self.session = uuid.uuid4().hex
        self.encoder = DeltaEncoder()
        self.opening: dict[str, Any] | None = {
            "beta": beta, "limits": asdict(limits), "seed": self.rng.getrandbits(32),
        }  # fmt: skip

    def _message(self, op: str, view: View) -> dict[str, Any]:
        message = {"op": op, "session": self.session, "view": self.encoder.encode(view)}
        if self.opening is not None:
            message["open"], self.opening = self.opening, None
        return message

    def decide(self, view: View) -> Sequence[Action]:
        raise TypeError("a sandboxed controller decides through adecide (the engine awaits it)")

    async def adecide(self, view: View) -> Sequence[Action]:
        reply = await self.sandboxed.call(self._message("decide", view))
        try:
            return decode_actions(reply.get("actions"))
        except ValueError as exc:
            raise RemoteControllerError(f"malformed actions: {exc}"[:300]) from None

    async def aaggregate(self, view: View) -> str | None:
        answer = (await self.sandboxed.call(self._message("aggregate", view))).get("answer")
        if answer is not None and (not isinstance(answer, str) or len(answer) > 4096):
            raise RemoteControllerError("aggregate returned something that is not an answer")
        return answer

    async def finish(self) -> None:
        self.sandboxed.notify({"op": "close", "session": self.session})


def remote_class(sandboxed: SandboxedFile, name: str | None = None) -> type[RemoteController]:
    """The served class for a sandboxed file: under ``name`` (what the gate's sandboxed load
    reported), or under the name its worker reports now (it is started and loaded)."""
    if name is None:
        name = sandboxed.load()
    elif not _NAME.match(name):
        raise RemoteControllerError(f"{sandboxed.filename}: not a controller name: {name[:80]!r}")
    sandboxed.name = name
    return type(f"Remote_{name}", (RemoteController,), {"name": name, "sandboxed": sandboxed})
