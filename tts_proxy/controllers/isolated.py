"""The sandboxed worker: ``python -m tts_proxy.controllers.isolated serve`` (inside bwrap).

It loads its own modules, confines itself (``sandbox.confine``: resource limits, then
seccomp), and only then reads the untrusted source (``load``). Then, per search, it answers
``decide`` (a view delta; the first one opens the search with the controller's beta, limits
and seed) and ``aggregate``, and forgets a search on ``close``. It speaks JSON lines; replies
go to a private copy of stdout, and what the controller itself prints goes to stderr.

The worker only decides. Everything that judges a controller -- the engine, the replay, the
accounting, the gate's checks -- runs in the trusted process that asked (``remote``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from typing import Any, TextIO

from tts_proxy.controllers.sandbox import SERVE_LIMITS, Limits, confine


def _one_controller(source: str, filename: str) -> Any:
    from tts_proxy.controllers import controllers_in_source

    found = controllers_in_source(source, filename)
    if len(found) != 1:
        names = ", ".join(c.name for c in found) or "none"
        raise ValueError(f"a file must define exactly one controller (found: {names})")
    return found[0]


class Worker:
    """``serve``'s state: the controller class and one search per session."""

    def __init__(self, replies: TextIO) -> None:
        self.replies = replies
        self.controller: Any = None
        self.sessions: dict[str, tuple[Any, Any]] = {}  # id -> (controller, mirror)

    def handle(self, message: dict[str, Any]) -> dict[str, Any]:
        from tts_proxy.controllers.base import Limits as Budget
        from tts_proxy.controllers.wire import Mirror, encode_actions

        op = message.get("op")
        if op == "load":
            self.controller = _one_controller(message["source"], message["filename"])
            return {"controller": self.controller.name}
        session = str(message.get("session"))
        if op == "close":
            self.sessions.pop(session, None)
            return {}
        if session not in self.sessions:
            opened = message["open"]
            budget = Budget(**opened["limits"])
            instance = self.controller(float(opened["beta"]), budget, random.Random(opened["seed"]))
            self.sessions[session] = (instance, Mirror())
        instance, mirror = self.sessions[session]
        view = mirror.apply(message["view"])
        if op == "decide":
            return {"actions": encode_actions(instance.decide(view))}
        if op == "aggregate":
            return {"answer": instance.aggregate(view)}
        raise ValueError(f"unknown op {op!r}")

    def serve(self, requests: TextIO) -> None:
        for line in requests:
            message = json.loads(line)
            try:
                reply = self.handle(message)
            except Exception as exc:  # the controller's own bug: reported, the worker goes on
                reply = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            reply["id"] = message.get("id")
            self.replies.write(json.dumps(reply) + "\n")
            self.replies.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("job", choices=["serve"])
    parser.add_argument("--memory", type=int, default=SERVE_LIMITS.memory_bytes)
    parser.add_argument("--cpu", type=int, default=SERVE_LIMITS.cpu_seconds)
    args = parser.parse_args()
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # the controller's prints: stderr
    # Our own modules first, before confinement; no child processes for answer work in here
    # (the sandbox is the bound, and it refuses them).
    import tts_proxy.controllers.base
    import tts_proxy.controllers.wire  # noqa: F401
    from tts_proxy.answers import workers

    workers.configure(0)
    confine(Limits(memory_bytes=args.memory, cpu_seconds=args.cpu))
    Worker(replies).serve(sys.stdin)


if __name__ == "__main__":
    main()
