"""The gate's child process: ``python -m tts_proxy.discovery.sandbox`` with a JSON task on stdin.

It lowers its own CPU-time and address-space limits first, then imports the controller file,
checks that its cost grows with beta, optionally measures its curve, and prints one JSON
line: ``{"ok": bool, "reasons": [...], ...}``. Anything the file does wrong -- raising,
looping, allocating -- ends here (the parent sees a reason, or a killed child).
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path
from typing import Any

MONOTONE_BETAS = (0.0, 0.25, 0.5, 0.75, 1.0)
MONOTONE_QUESTIONS = 4
MONOTONE_REPEATS = 4
MONOTONE_TOLERANCE = 0.01  # relative: a cost may dip by 1% between beta steps (rounding)


def _limit(cpu_seconds: int, memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def run(task: dict[str, Any]) -> dict[str, Any]:
    # Heavy imports happen before the limits bite on the controller (they are ours, not its).
    from tts_proxy.controllers import load_controller_file
    from tts_proxy.controllers.base import Limits
    from tts_proxy.discovery.curves import measure
    from tts_proxy.discovery.environments import Environment, load_environment
    from tts_proxy.errors import TTSProxyError
    from tts_proxy.replay.evaluate import evaluate
    from tts_proxy.replay.synthetic import synthetic_question

    data = [Path(p) for p in task.get("data") or []]
    if data:
        env = load_environment(data[0])
        sample = env.questions[:MONOTONE_QUESTIONS]
    else:
        sample = tuple(synthetic_question(s) for s in range(MONOTONE_QUESTIONS))
    spec = task.get("evaluate")
    envs: list[Environment] = []
    if spec:
        envs = [load_environment(Path(e["path"]), e.get("indices")) for e in spec["environments"]]

    _limit(int(task["cpu_seconds"]), int(task["memory_bytes"]))
    try:
        found = load_controller_file(Path(task["file"]))
    except TTSProxyError as exc:
        return {"ok": False, "reasons": [f"import failed: {exc.message}"]}
    if len(found) != 1:
        names = ", ".join(c.name for c in found)
        return {"ok": False, "reasons": [f"a file must define exactly one controller ({names})"]}
    controller = found[0]
    report: dict[str, Any] = {"controller": controller.name}

    costs = []
    for beta in MONOTONE_BETAS:
        ev = evaluate(
            controller, sample, beta, limits=Limits(max_branches=64), repeats=MONOTONE_REPEATS
        )
        costs.append(ev.tokens_per_question)
        if ev.faults:
            report["ok"] = False
            report["reasons"] = [f"at beta {beta}: {ev.faults[0]}"]
            return report
    report["monotone_costs"] = costs
    for (b0, c0), (b1, c1) in zip(
        zip(MONOTONE_BETAS, costs, strict=True),
        zip(MONOTONE_BETAS[1:], costs[1:], strict=True),
        strict=False,
    ):
        if c1 < c0 * (1 - MONOTONE_TOLERANCE):
            report["ok"] = False
            report["reasons"] = [
                f"cost falls as beta grows: {c0:.0f} tokens at beta {b0} but {c1:.0f} at {b1}"
            ]
            return report

    if spec:
        curve = measure(
            controller,
            envs,
            spec["betas"],
            repeats=int(spec["repeats"]),
            seed=int(spec.get("seed", 0)),
            width=int(spec.get("width", 64)),
        )
        report["curve"] = curve.to_json()
    report["ok"] = True
    report["reasons"] = []
    return report


def main() -> None:
    task = json.loads(sys.stdin.read())
    try:
        report = run(task)
    except MemoryError:
        report = {"ok": False, "reasons": ["ran out of memory (address-space limit)"]}
    except RecursionError:
        report = {"ok": False, "reasons": ["recursion without end"]}
    except Exception as exc:  # the controller's own bug: report it, never crash the caller
        report = {"ok": False, "reasons": [f"raised {type(exc).__name__}: {exc}"[:500]]}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
