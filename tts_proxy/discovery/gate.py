"""The gate every generated controller file passes before it runs anywhere.

1. Static check of the source: it parses; it imports only the controller API and a few
   standard-library modules; it names no file, network, process or introspection builtin
   (``open``, ``eval``, ``exec``, ``__import__``, ``getattr`` ...) and touches no dunder
   attribute other than ``__init__``.
2. Sandboxed run (``tts_proxy.discovery.sandbox`` in a child process, under CPU-time and
   address-space limits and a wall-clock timeout): the file is imported, its controller is
   found, its cost is checked to grow with beta on a few questions, and -- when asked -- its
   accuracy-tokens curve is measured. A file that loops, allocates without bound or raises
   is reported with the reason, never run in the caller's process.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
# Built-in controllers may be subclassed (parameter search writes CMC subclasses).
FAMILY_PREFIX = "tts_proxy.controllers."
FORBIDDEN_NAMES = frozenset(
    {
        "open",
        "eval",
        "exec",
        "compile",
        "__import__",
        "globals",
        "locals",
        "vars",
        "getattr",
        "setattr",
        "delattr",
        "input",
        "breakpoint",
        "exit",
        "quit",
        "memoryview",
        "help",
        "__builtins__",
        "__loader__",
        "__spec__",
        "importlib",
        "os",
        "sys",
        "subprocess",
        "socket",
        "shutil",
        "pathlib",
        "ctypes",
        "signal",
        "threading",
        "multiprocessing",
    }
)
ALLOWED_DUNDERS = frozenset({"__init__", "__future__"})


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    cpu_seconds: int = 120
    memory_bytes: int = 3 << 30
    wall_seconds: float = 180.0


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
    """Everything wrong with ``source`` that can be seen without running it."""
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
    limits: SandboxLimits = SandboxLimits(),
) -> GateResult:
    """Static check, then the sandboxed import, monotone check and (optional) evaluation.

    ``data``: replay files for the monotone check (synthetic questions when empty);
    ``evaluate``: a curve to measure in the sandbox (see ``sandbox.Task``).
    """
    try:
        source = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        return GateResult(False, [f"unreadable: {exc}"])
    problems = static_problems(source)
    if problems:
        return GateResult(False, problems)
    task = {
        "file": str(path.resolve()),
        "data": [str(p) for p in data],
        "evaluate": evaluate,
        "cpu_seconds": limits.cpu_seconds,
        "memory_bytes": limits.memory_bytes,
    }
    return run_sandbox(task, limits.wall_seconds)


def run_sandbox(task: dict[str, Any], wall_seconds: float) -> GateResult:
    """Run one sandbox task in a child process; its last stdout line is its JSON report."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tts_proxy.discovery.sandbox"],
            input=json.dumps(task),
            capture_output=True,
            text=True,
            timeout=wall_seconds,
        )
    except subprocess.TimeoutExpired:
        return GateResult(False, [f"timed out after {wall_seconds:g} s of wall time"])
    lines = done.stdout.strip().splitlines()
    try:
        report = json.loads(lines[-1]) if lines else None
    except ValueError:
        report = None
    if not isinstance(report, dict):
        if done.returncode < 0:
            why = f"killed by signal {-done.returncode}"
            if -done.returncode in (9, 24):  # SIGKILL, SIGXCPU: the limits at work
                why += " (CPU-time or memory limit)"
        else:
            tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
            why = f"exited with {done.returncode}: {tail[0][:300]}"
        return GateResult(False, [why])
    reasons = [str(r) for r in report.get("reasons", [])]
    return GateResult(bool(report.get("ok")) and not reasons, reasons, report)


PROXY_LIMITS = SandboxLimits(cpu_seconds=60, memory_bytes=3 << 30, wall_seconds=120)


def gate_for_proxy(path: Path) -> str | None:
    """The gate as the proxy applies it to a file it is about to load: why it is refused, or
    None. No recorded data is needed: the monotone check runs on synthetic questions."""
    result = check_file(path, limits=PROXY_LIMITS)
    return None if result.ok else result.reason
