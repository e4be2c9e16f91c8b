"""The OS-level sandbox that code the project did not write runs in.

Python cannot contain Python: ``from random import _os`` reaches ``os``, frames reach the
builtins, ``str.format`` reaches dunders -- no allow-list of names in an AST closes that. So a
controller file that is not trusted (``trust``) runs only in a child process that the kernel
confines, in two layers:

1. bubblewrap (``bwrap``, from Debian) starts the child in new user, PID, network, IPC, UTS
   and cgroup namespaces, as the unprivileged user 65534 with every capability dropped and
   ``no_new_privs`` set, with no network but its own loopback, an empty environment, and a
   read-only view of only what Python needs (``/usr``, the interpreter, the virtual
   environment, the ``tts_proxy`` package, and the data files a task names): no home
   directory, no trace or controllers directory, no API keys. It dies with its parent.
2. Inside, before the untrusted code is loaded, the child lowers its resource limits (address
   space, CPU time, open files, file size, processes) and installs a seccomp filter
   (libseccomp, through ``pyseccomp``) that refuses every syscall that starts programs or
   processes, opens sockets, or reaches into the kernel (``execve``, ``fork``, ``socket``,
   ``ptrace``, ``mount``, ``bpf`` ...).

The parent adds the wall-time limit: it kills the child past it.
"""

from __future__ import annotations

import errno
import os
import resource
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import tts_proxy

NOBODY = 65534
# The environment bubblewrap itself is started with: its first process stays in the sandbox
# as PID 1, and /proc/1/environ would show the proxy's environment (its keys) to the code
# inside. ``--clearenv`` only clears the environment of the command it starts.
LAUNCH_ENV = {"PATH": "/usr/bin:/bin"}


class SandboxUnavailable(Exception):
    """There is no OS sandbox on this machine (bubblewrap is missing or cannot run)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What a sandboxed child may use: address space, CPU time (the child's lifetime) and, for
    the parent to enforce, wall time per task or per call."""

    memory_bytes: int = 2 << 30
    cpu_seconds: int = 600
    wall_seconds: float = 900.0


# A served worker: 1 GiB, an hour of CPU over its life, 2 s per decide.
SERVE_LIMITS = Limits(memory_bytes=1 << 30, cpu_seconds=3600, wall_seconds=2.0)
# A worker that discovery (or a test) measures offline: a decide that is slow because the
# machine is busy must not turn into a fault and change the figures.
MEASURE_LIMITS = Limits(memory_bytes=1 << 30, cpu_seconds=3600, wall_seconds=60.0)


def bwrap() -> str:
    """The bubblewrap binary, or ``SandboxUnavailable`` saying how to get it."""
    found = shutil.which("bwrap")
    if found is None:
        raise SandboxUnavailable(
            "no OS sandbox: bubblewrap is not installed (Debian/Ubuntu: apt-get install "
            "bubblewrap); untrusted controller files are refused without it"
        )
    return found


def _system_mounts() -> list[str]:
    """``/usr`` and the merged-/usr links (``/lib`` -> ``usr/lib`` on Debian), read-only."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib64", "/lib32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    if os.path.exists("/etc/ld.so.cache"):
        args += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    return args


def _python_mounts() -> list[str]:
    """The interpreter, the virtual environment and the ``tts_proxy`` package, read-only."""
    package = Path(tts_proxy.__file__).resolve().parent
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), package}
    args: list[str] = []
    for root in sorted(roots):
        if root.parts[:2] != ("/", "usr"):
            args += ["--ro-bind", str(root), str(root)]
    return args


def _devices() -> list[str]:
    """The few device nodes Python uses, and no writable filesystem: a tmpfs (``--dev``,
    ``--tmpfs``) would be memory outside the address-space limit."""
    args = ["--dir", "/dev"]
    for node in ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"):
        args += ["--dev-bind", node, node]
    return args


def command(argv: Sequence[str]) -> list[str]:
    """``argv`` (a Python module run by this interpreter) wrapped in bubblewrap."""
    args = [
        bwrap(), "--unshare-all", "--uid", str(NOBODY), "--gid", str(NOBODY),
        "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv",
        "--hostname", "sandbox", *_system_mounts(), *_python_mounts(),
        "--proc", "/proc", *_devices(), "--dir", "/tmp",
        "--setenv", "HOME", "/tmp", "--setenv", "PATH", "/usr/bin",
        "--setenv", "PYTHONDONTWRITEBYTECODE", "1", "--chdir", "/tmp",
    ]  # fmt: skip
    # Last: the root itself read-only (the mount points above had to be made first).
    return [*args, "--remount-ro", "/", sys.executable, *argv]


# Refused with EPERM once the child is confined: starting programs or processes, sockets, and
# every door into the kernel a controller has no use for. Threads (clone with CLONE_THREAD)
# stay allowed, and so does socketpair (a connected pair inside the process, which asyncio's
# event loop uses to wake itself): Python's own machinery needs them.
_REFUSED_SYSCALLS = (
    "execve", "execveat", "fork", "vfork", "socket", "connect",
    "bind", "listen", "accept", "accept4", "ptrace", "process_vm_readv", "process_vm_writev",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "keyctl", "add_key",
    "request_key", "bpf", "perf_event_open", "init_module", "finit_module", "delete_module",
    "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff", "open_by_handle_at",
    "name_to_handle_at", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "personality", "setuid", "setgid", "setreuid", "setregid",
    "setresuid", "setresgid", "setgroups", "mknod", "mknodat", "acct", "quotactl",
)  # fmt: skip
_CLONE_THREAD = 0x00010000


def confine(limits: Limits) -> None:
    """In the sandboxed child, before untrusted code runs: resource limits, then seccomp."""
    for limit, value in (
        (resource.RLIMIT_AS, limits.memory_bytes),
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_NOFILE, 64),
        (resource.RLIMIT_FSIZE, 16 << 20),
        (resource.RLIMIT_NPROC, 64),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(limit, (value, value))
    import pyseccomp as seccomp

    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    refuse = seccomp.ERRNO(errno.EPERM)
    for name in _REFUSED_SYSCALLS:
        try:
            rules.add_rule(refuse, name)
        except (RuntimeError, OSError, ValueError):  # a syscall this kernel does not have
            continue
    # clone without CLONE_THREAD starts a process: refused; with it, a thread: allowed.
    rules.add_rule(refuse, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, _CLONE_THREAD, 0))
    # clone3 passes its flags in memory a filter cannot read: "not implemented" makes the C
    # library fall back to clone (EPERM would make it fail even for threads).
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    rules.load()
