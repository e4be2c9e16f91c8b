"""Serving an untrusted controller file from the OS sandbox, one ``decide`` per round.

Each such file gets one long-lived sandboxed worker (``isolated serve``) that holds every
search's controller; the proxy keeps ``RemoteController`` stand-ins that send the worker each
round's view delta and get its actions back (``wire``). The pipes are read and written by two
threads, so no call blocks the event loop: ``adecide`` awaits a future. A call that takes
longer than the limit kills the worker -- the searches on it end as a controller fault, the
engine answers by majority -- and the next search starts a new one; a file whose workers keep
dying is refused calls for a while instead of restarted on every request.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import queue
import random
import subprocess
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, ClassVar

from tts_proxy.actions import Action
from tts_proxy.controllers.base import Controller, Limits
from tts_proxy.controllers.isolated import SERVE_LIMITS
from tts_proxy.controllers.sandbox import LAUNCH_ENV, command
from tts_proxy.controllers.wire import DeltaEncoder, decode_actions
from tts_proxy.state import View

START_SECONDS = 60.0
RESTARTS_BEFORE_PAUSE = 5
PAUSE_SECONDS = 60.0


class RemoteControllerError(Exception):
    """The sandboxed controller failed: it raised, sent garbage, or its worker died."""


class SandboxedFile:
    """One untrusted controller file and the sandboxed worker that serves it."""

    def __init__(
        self, source: str, filename: str, *, call_seconds: float = SERVE_LIMITS.wall_seconds
    ):
        self.source = source
        self.filename = filename
        self.call_seconds = call_seconds
        self.restarts: list[float] = []
        self._process: subprocess.Popen[bytes] | None = None
        self._pending: dict[int, concurrent.futures.Future[dict[str, Any]]] = {}
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._ids = itertools.count()
        self._lock = threading.Lock()

    # -- the worker ------------------------------------------------------------------------

    def _start(self) -> subprocess.Popen[bytes]:
        """Start a worker and load the file into it (blocking; never on the event loop)."""
        recent = [t for t in self.restarts if time.monotonic() - t < PAUSE_SECONDS]
        if len(recent) >= RESTARTS_BEFORE_PAUSE:
            raise RemoteControllerError(
                f"{self.filename}: its sandboxed worker died {len(recent)} times in "
                f"{PAUSE_SECONDS:.0f} s; calls are refused for a while"
            )
        self.restarts = [*recent, time.monotonic()]
        process = subprocess.Popen(
            command(["-m", "tts_proxy.controllers.isolated", "serve"]),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=LAUNCH_ENV,
        )  # fmt: skip
        self._outbox = queue.SimpleQueue()
        threading.Thread(target=self._write, args=(process, self._outbox), daemon=True).start()
        threading.Thread(target=self._read, args=(process,), daemon=True).start()
        self._process = process
        loaded = self._send({"op": "load", "source": self.source, "filename": self.filename})
        try:
            reply = loaded.result(START_SECONDS)
        except concurrent.futures.TimeoutError:
            self.kill()
            raise RemoteControllerError(f"{self.filename}: the sandbox did not start") from None
        if "error" in reply:
            self.kill()
            raise RemoteControllerError(f"{self.filename}: {reply['error']}")
        return process

    def _running(self) -> None:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._start()

    def _write(
        self, process: subprocess.Popen[bytes], outbox: queue.SimpleQueue[bytes | None]
    ) -> None:
        assert process.stdin is not None
        while (line := outbox.get()) is not None:
            try:
                process.stdin.write(line)
                process.stdin.flush()
            except (OSError, ValueError):
                return

    def _read(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            try:
                reply = json.loads(line)
                future = self._pending.pop(int(reply["id"]))
            except (ValueError, KeyError, TypeError):
                continue  # not one of ours: the controller cannot forge what it cannot see
            if not future.done():
                future.set_result(reply)
        gone = RemoteControllerError(f"{self.filename}: its sandboxed worker ended")
        for future in list(self._pending.values()):
            if not future.done():
                future.set_exception(gone)
        self._pending.clear()

    def _send(self, message: dict[str, Any]) -> concurrent.futures.Future[dict[str, Any]]:
        future: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        number = next(self._ids)
        self._pending[number] = future
        self._outbox.put((json.dumps(message | {"id": number}) + "\n").encode())
        return future

    def kill(self) -> None:
        """Stop the worker now (its searches fail; the next one starts another)."""
        process, self._process = self._process, None
        self._outbox.put(None)
        if process is not None and process.poll() is None:
            process.kill()

    # -- calls -----------------------------------------------------------------------------

    async def call(self, message: dict[str, Any]) -> dict[str, Any]:
        """One request to the worker, started if need be; past ``call_seconds`` it is killed."""
        if self._process is None or self._process.poll() is not None:
            await asyncio.to_thread(self._running)
        future = asyncio.wrap_future(self._send(message))
        try:
            reply = await asyncio.wait_for(future, self.call_seconds)
        except TimeoutError:
            self.kill()
            raise RemoteControllerError(
                f"{self.filename}: no answer within {self.call_seconds:g} s; its worker was stopped"
            ) from None
        if "error" in reply:
            raise RemoteControllerError(str(reply["error"]))
        return reply

    def notify(self, message: dict[str, Any]) -> None:
        """A message with no reply wanted (a search's end), if a worker is running."""
        if self._process is not None and self._process.poll() is None:
            self._send(message)


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
        if answer is not None and not isinstance(answer, str):
            raise RemoteControllerError("aggregate returned something that is not an answer")
        return answer

    async def finish(self) -> None:
        self.sandboxed.notify({"op": "close", "session": self.session})


def remote_class(name: str, sandboxed: SandboxedFile) -> type[RemoteController]:
    """The served class for a sandboxed file's controller ``name``."""
    return type(f"Remote_{name}", (RemoteController,), {"name": name, "sandboxed": sandboxed})
