"""The sandboxed child: ``python -m tts_proxy.controllers.isolated check|serve`` (in bwrap).

``check``: a task (JSON on stdin) -- the file's source, replay files for the monotone check,
an optional curve to measure. The child loads the data (its own code, before confinement),
confines itself (``sandbox.confine``), loads the untrusted source, checks that its cost grows
with beta, measures the curve if asked, and prints one JSON report line.

``serve``: a long-lived worker for one controller file, speaking JSON lines (``remote``). It
confines itself, then takes ``load`` (the source), and per search ``decide`` (a view delta,
the first one with the controller's beta, limits and seed) and ``aggregate``. Replies go to a
private copy of stdout: what the controller itself prints goes to stderr, not to the proxy.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import sys
from pathlib import Path
from typing import Any, TextIO

from tts_proxy.controllers.sandbox import Limits, confine

MONOTONE_BETAS = (0.0, 0.25, 0.5, 0.75, 1.0)
MONOTONE_QUESTIONS = 4
MONOTONE_REPEATS = 4
MONOTONE_TOLERANCE = 0.01  # relative: a cost may dip by 1% between beta steps (rounding)
SERVE_LIMITS = Limits(memory_bytes=1 << 30, cpu_seconds=3600, wall_seconds=2.0)


def _one_controller(source: str, filename: str) -> Any:
    from tts_proxy.controllers import controllers_in_source

    found = controllers_in_source(source, filename)
    if len(found) != 1:
        names = ", ".join(c.name for c in found) or "none"
        raise ValueError(f"a file must define exactly one controller (found: {names})")
    return found[0]


def _monotone(controller: Any, sample: Any) -> tuple[list[float], str | None]:
    from tts_proxy.controllers.base import Limits as Budget
    from tts_proxy.replay.evaluate import evaluate

    costs: list[float] = []
    for beta in MONOTONE_BETAS:
        ev = evaluate(controller, sample, beta, limits=Budget(max_branches=64),
                      repeats=MONOTONE_REPEATS)  # fmt: skip
        if ev.faults:
            return costs, f"at beta {beta}: {ev.faults[0]}"
        costs.append(ev.tokens_per_question)
    for (b0, c0), (b1, c1) in itertools.pairwise(zip(MONOTONE_BETAS, costs, strict=True)):
        if c1 < c0 * (1 - MONOTONE_TOLERANCE):
            why = f"cost falls as beta grows: {c0:.0f} tokens at beta {b0} but {c1:.0f} at {b1}"
            return costs, why
    return costs, None


def check(task: dict[str, Any]) -> dict[str, Any]:
    # Our own work first, before the limits bite and the untrusted code is loaded.
    from tts_proxy.answers import workers
    from tts_proxy.discovery.curves import measure
    from tts_proxy.discovery.environments import load_environment
    from tts_proxy.replay.synthetic import synthetic_question

    workers.configure(0)  # no child processes in here: the sandbox itself is the bound
    if task.get("key_cache"):
        os.environ["TTS_CACHE_DIR"] = str(Path(task["key_cache"]).parents[1])
    data = [Path(p) for p in task.get("data") or []]
    if data:
        sample = load_environment(data[0]).questions[:MONOTONE_QUESTIONS]
    else:
        sample = tuple(synthetic_question(s) for s in range(MONOTONE_QUESTIONS))
    spec = task.get("evaluate")
    envs = [load_environment(Path(e["path"]), e.get("indices")) for e in spec["environments"]] \
        if spec else []  # fmt: skip

    confine(Limits(int(task["memory_bytes"]), int(task["cpu_seconds"])))
    try:
        controller = _one_controller(task["source"], task.get("filename", "controller.py"))
    except Exception as exc:
        return {"ok": False, "reasons": [f"import failed: {type(exc).__name__}: {exc}"[:500]]}
    report: dict[str, Any] = {"controller": controller.name}
    costs, problem = _monotone(controller, sample)
    report["monotone_costs"] = costs
    if problem is not None:
        return report | {"ok": False, "reasons": [problem]}
    if spec:
        seed, width = int(spec.get("seed", 0)), int(spec.get("width", 64))
        curve = measure(controller, envs, spec["betas"], repeats=int(spec["repeats"]),
                        seed=seed, width=width)  # fmt: skip
        report["curve"] = curve.to_json()
    return report | {"ok": True, "reasons": []}


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
    job = sys.argv[1] if len(sys.argv) > 1 else ""
    if job == "check":
        task = json.loads(sys.stdin.read())
        try:
            report = check(task)
        except MemoryError:
            report = {"ok": False, "reasons": ["ran out of memory (address-space limit)"]}
        except RecursionError:
            report = {"ok": False, "reasons": ["recursion without end"]}
        except Exception as exc:  # the controller's own bug: report it, never crash the caller
            report = {"ok": False, "reasons": [f"raised {type(exc).__name__}: {exc}"[:500]]}
        print(json.dumps(report), flush=True)
    elif job == "serve":
        replies = os.fdopen(os.dup(sys.stdout.fileno()), "w")
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # the controller's prints: stderr
        import tts_proxy.controllers.base
        import tts_proxy.controllers.wire  # noqa: F401

        confine(SERVE_LIMITS)
        Worker(replies).serve(sys.stdin)
    else:
        sys.exit("usage: python -m tts_proxy.controllers.isolated check|serve")


if __name__ == "__main__":
    main()
