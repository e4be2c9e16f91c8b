"""The embedded vLLM's keeper: ``python -m tts_proxy.embedded.watchdog -- COMMAND...``.

vLLM runs in a session of its own (so a Ctrl-C aimed at the proxy's terminal does not hit it
half-way through a graceful stop), which also means nothing stops it when the proxy dies. The
watchdog closes that gap: it starts COMMAND in a new session and holds the read end of a pipe
whose write end only the proxy holds (its stdin). However the proxy ends -- a clean exit,
SIGTERM, SIGKILL, the OOM killer -- the kernel closes that end, the watchdog reads EOF, and it
stops COMMAND's whole process group: SIGTERM, then SIGKILL after ``--grace`` seconds. It does
the same on SIGTERM or SIGINT sent to it alone (it runs in a session of its own too, so the
signals a terminal or ``kill -- -PGID`` send to the proxy's group leave it to the proxy, which
drains its requests before it lets go of the lifeline), and exits when COMMAND exits, with its
status (0 when it stopped COMMAND). Should the watchdog itself be killed, the kernel sends
COMMAND a SIGTERM (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import select
import signal
import subprocess
import sys
from types import FrameType

POLL_SECONDS = 0.5
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _die_with_parent() -> None:
    """In the child before it runs COMMAND: SIGTERM it if the watchdog itself is killed."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def stop_group(process: subprocess.Popen[bytes], grace: float) -> int:
    """SIGTERM to the process group, SIGKILL after ``grace`` seconds; the leader's status."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            return process.wait(grace)
        except subprocess.TimeoutExpired:
            continue
    return process.wait()


def _lifeline_closed() -> bool:
    ready, _, _ = select.select([sys.stdin.buffer], [], [], POLL_SECONDS)
    return bool(ready) and not os.read(sys.stdin.fileno(), 4096)


def keep(command: list[str], grace: float) -> int:
    """Run ``command`` until it exits, the lifeline closes, or a stop signal arrives."""
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    process = subprocess.Popen(
        command, start_new_session=True, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent
    )
    try:
        while True:
            code = process.poll()
            if code is not None:
                return code
            if stopping or _lifeline_closed():
                stop_group(process, grace)
                return 0  # stopped as asked
    finally:  # children that outlived their parent in the group (vLLM's engine core)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grace", type=float, default=10.0, help="seconds before SIGKILL")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to keep after --")
    sys.exit(keep(command, args.grace))


if __name__ == "__main__":
    main()
