"""The gate an untrusted controller file passes before it is served or measured.

1. A lint of the source: it parses, and it names no module or builtin that reaches the
   system (``os``, ``open``, ``eval``, dunder attributes ...). This refuses the obvious cheaply;
   it is *not* what contains a file -- no allow-list can contain Python.
2. A run in the OS sandbox (``sandbox``: bubblewrap, seccomp, resource limits, a wall-time
   limit): the file is loaded there, its controller found, its cost checked to grow with beta
   on a few questions, and -- when asked -- its accuracy-tokens curve measured. Whatever the
   file does, it does there: the report comes back on a pipe.

Files the operator trusts (``trust``) and data documents (``document``) skip the sandbox.
"""

from __future__ import annotations

import ast
import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tts_proxy.controllers.sandbox import LAUNCH_ENV, Limits, SandboxUnavailable, command

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
# The gate's own run: short, and small.
GATE_LIMITS = Limits(memory_bytes=2 << 30, cpu_seconds=60, wall_seconds=120)


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
    """Lint (unless ``lint=False``), then the sandboxed load, monotone check and (optional)
    evaluation of a controller file.

    ``data``: replay files for the monotone check (synthetic questions when empty);
    ``evaluate``: a curve to measure (``isolated.check``'s ``evaluate`` task). The files they
    name are readable in the sandbox; their answer keys must be cached already (the caller
    loaded them), since the sandbox cannot write the cache.
    """
    try:
        source = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        return GateResult(False, [f"unreadable: {exc}"])
    problems = static_problems(source) if lint else []
    if problems:
        return GateResult(False, problems)
    paths = [Path(p) for p in data]
    if evaluate:
        paths += [Path(e["path"]) for e in evaluate["environments"]]
    task = {
        "source": source,
        "filename": path.name,
        "data": [str(p.resolve()) for p in data],
        "evaluate": evaluate,
        "memory_bytes": limits.memory_bytes,
        "cpu_seconds": limits.cpu_seconds,
    }
    return run_check(task, limits.wall_seconds, readable=paths)


def run_check(task: dict[str, Any], wall_seconds: float, *, readable: Sequence[Path]) -> GateResult:
    """Run one check task in the sandbox; its last stdout line is its JSON report."""
    from tts_proxy.replay.key_cache import cache_file

    keys = cache_file()
    try:
        argv = command(["-m", "tts_proxy.controllers.isolated", "check"],
                       readable=[*readable, *([keys] if keys.exists() else [])])  # fmt: skip
    except SandboxUnavailable as exc:
        return GateResult(False, [str(exc)])
    try:
        done = subprocess.run(
            argv, input=json.dumps(task | {"key_cache": str(keys)}), capture_output=True,
            text=True, timeout=wall_seconds, env=LAUNCH_ENV,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return GateResult(False, [f"timed out after {wall_seconds:g} s of wall time"])
    return _verdict(done)


def _verdict(done: subprocess.CompletedProcess[str]) -> GateResult:
    lines = done.stdout.strip().splitlines()
    try:
        report = json.loads(lines[-1]) if lines else None
    except ValueError:
        report = None
    if not isinstance(report, dict):
        if done.returncode < 0 or done.returncode > 128:
            signum = -done.returncode if done.returncode < 0 else done.returncode - 128
            why = f"killed by signal {signum}"
            if signum in (9, 24):  # SIGKILL, SIGXCPU: the limits at work
                why += " (CPU-time or memory limit)"
        else:
            tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
            why = f"exited with {done.returncode}: {tail[0][:300]}"
        return GateResult(False, [why])
    reasons = [str(r) for r in report.get("reasons", [])]
    return GateResult(bool(report.get("ok")) and not reasons, reasons, report)
