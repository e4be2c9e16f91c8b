"""The gate an untrusted controller file passes before it is served or measured.

1. A lint of the source: it parses, and it names no module or builtin that reaches the
   system (``os``, ``open``, ``eval``, dunder attributes ...). This refuses the obvious cheaply;
   it is *not* what contains a file -- no allow-list can contain Python.
2. A load in the OS sandbox (``sandbox``: bubblewrap, seccomp, resource limits) as a worker
   that only decides (``remote``), while this process replays questions against it: its
   cost must grow with beta on a few questions, and -- when asked -- its accuracy-tokens
   curve is measured. Whatever the file does, it does in the sandbox; the figures are ours.

Files the operator trusts (``trust``) and data documents (``document``) skip the sandbox.
"""

from __future__ import annotations

import ast
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tts_proxy.controllers.base import Controller
from tts_proxy.controllers.base import Limits as Budget
from tts_proxy.controllers.remote import RemoteControllerError, SandboxedFile, remote_class
from tts_proxy.controllers.sandbox import Limits, SandboxUnavailable

STDLIB_ALLOWED = frozenset(
    {
        "math",
        "statistics",
        "random",
        "collections",
        "collections.abc",
        "dataclasses",
        "itertools",
        "typing",
        "__future__",
    }
)
API_ALLOWED = frozenset(
    {"tts_proxy.actions", "tts_proxy.state", "tts_proxy.answers", "tts_proxy.controllers.base"}
)
# Built-in controllers may be subclassed.
FAMILY_PREFIX = "tts_proxy.controllers."
FORBIDDEN_NAMES = frozenset(
    {
        "open", "eval", "exec", "compile", "__import__", "globals", "locals", "vars", "getattr",
        "setattr", "delattr", "input", "breakpoint", "exit", "quit", "memoryview", "help",
        "__builtins__", "__loader__", "__spec__", "importlib", "os", "sys", "subprocess",
        "socket", "shutil", "pathlib", "ctypes", "signal", "threading", "multiprocessing",
    }
)  # fmt: skip
ALLOWED_DUNDERS = frozenset({"__init__", "__future__"})
# The gate's own run: short, and small; each decide at most CALL_SECONDS.
GATE_LIMITS = Limits(memory_bytes=2 << 30, cpu_seconds=60, wall_seconds=120)
CALL_SECONDS = 5.0
MONOTONE_BETAS = (0.0, 0.25, 0.5, 0.75, 1.0)
MONOTONE_QUESTIONS = 4
MONOTONE_REPEATS = 4
MONOTONE_TOLERANCE = 0.01  # relative: a cost may dip by 1% between beta steps (rounding)


@dataclass(slots=True)
class GateResult:
    """What the gate found: ``ok``, or the reasons it refused; the sandbox's report."""

    ok: bool
    reasons: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


def _module_allowed(name: str) -> bool:
    if name in STDLIB_ALLOWED or name in API_ALLOWED:
        return True
    if name.startswith(FAMILY_PREFIX):
        rest = name.removeprefix(FAMILY_PREFIX)
        return rest.isidentifier() and rest != "__init__"
    return False


def static_problems(source: str) -> list[str]:
    """Everything the lint finds wrong with ``source`` (see the module's docstring)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return [f"syntax error: {exc.msg} (line {exc.lineno})"]
    problems: list[str] = []
    for node in ast.walk(tree):
        where = f"line {getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not _module_allowed(alias.name):
                    problems.append(f"{where}: import of {alias.name!r} is not allowed")
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            if node.level or not _module_allowed(module):
                problems.append(f"{where}: import from {module!r} is not allowed")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            problems.append(f"{where}: use of {node.id!r} is not allowed")
        elif isinstance(node, ast.Attribute) and _is_dunder(node.attr):
            if node.attr not in ALLOWED_DUNDERS:
                problems.append(f"{where}: access to {node.attr!r} is not allowed")
        elif isinstance(node, ast.Name) and _is_dunder(node.id) and node.id != "__name__":
            problems.append(f"{where}: use of {node.id!r} is not allowed")
    return problems


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


def check_file(
    path: Path,
    *,
    data: Sequence[Path] = (),
    evaluate: dict[str, Any] | None = None,
    limits: Limits = GATE_LIMITS,
    lint: bool = True,
) -> GateResult:
    """``check_source`` on a file's text."""
    try:
        source = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        return GateResult(False, [f"unreadable: {exc}"])
    return check_source(source, path.name, data=data, evaluate=evaluate, limits=limits,
                        lint=lint)  # fmt: skip


def check_source(
    source: str,
    filename: str,
    *,
    data: Sequence[Path] = (),
    evaluate: dict[str, Any] | None = None,
    limits: Limits = GATE_LIMITS,
    lint: bool = True,
) -> GateResult:
    """Lint (unless ``lint=False``), then load the controller in the sandbox and check, from
    this process, that its cost grows with beta; measure its curve when asked.

    ``data``: replay files for the monotone check (synthetic questions when empty);
    ``evaluate``: a curve to measure -- ``{"environments": [{"path", "indices"}], "betas",
    "repeats", "seed", "width"}``. The sandboxed worker only decides; the replay and the
    figures are this process's, so a controller cannot report figures of its own. Every call
    after ``limits.wall_seconds`` fails, which ends the check.
    """
    problems = static_problems(source) if lint else []
    if problems:
        return GateResult(False, problems)
    deadline = time.monotonic() + limits.wall_seconds
    call = Limits(limits.memory_bytes, limits.cpu_seconds, CALL_SECONDS)
    sandboxed = SandboxedFile(source, filename, limits=call, deadline=deadline)
    try:
        controller = remote_class(sandboxed)
        return _checked(controller, data, evaluate)
    except (SandboxUnavailable, RemoteControllerError) as exc:
        return GateResult(False, [str(exc)])
    finally:
        sandboxed.close()


def _checked(
    controller: type[Controller], data: Sequence[Path], spec: dict[str, Any] | None
) -> GateResult:
    from tts_proxy.discovery.curves import measure
    from tts_proxy.discovery.environments import load_environment
    from tts_proxy.replay.synthetic import synthetic_question

    if data:
        sample = load_environment(data[0]).questions[:MONOTONE_QUESTIONS]
    else:
        sample = tuple(synthetic_question(s) for s in range(MONOTONE_QUESTIONS))
    report: dict[str, Any] = {"controller": controller.name}
    costs, problem = _monotone(controller, sample)
    report["monotone_costs"] = costs
    if problem is not None:
        return GateResult(False, [problem], report)
    if spec:
        envs = [load_environment(Path(e["path"]), e.get("indices")) for e in spec["environments"]]
        seed, width = int(spec.get("seed", 0)), int(spec.get("width", 64))
        curve = measure(controller, envs, spec["betas"], repeats=int(spec["repeats"]),
                        seed=seed, width=width)  # fmt: skip
        if curve.faults:
            return GateResult(False, [f"while measured: {curve.faults[0]}"], report)
        report["curve"] = curve.to_json()
    return GateResult(True, [], report)


def _monotone(
    controller: type[Controller], sample: Sequence[Any]
) -> tuple[list[float], str | None]:
    """Its cost at each of ``MONOTONE_BETAS``, and what is wrong (a fault, a falling cost)."""
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
