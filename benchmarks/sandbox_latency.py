"""What serving a controller from the OS sandbox adds per round.

The built-in ``cmc`` is replayed twice on the same questions and orderings: in process, and
as an untrusted file (a subclass of it under another name) served from a sandboxed worker
over its pipe (bubblewrap + seccomp, ``tts_proxy.controllers.remote``). Both must make the
same decisions (same accuracy, same tokens); the added time divided by the number of
decisions is the cost per round of the sandbox (goal: under 1 ms). Data: the shared Qwen3-8B
AIME24 replay file when it is there, else synthetic questions.

    python benchmarks/sandbox_latency.py [--repeats 2]
Writes benchmarks/results/sandbox_latency.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from tts_proxy.controllers.cmc import ConfidenceMomentum
from tts_proxy.controllers.remote import SandboxedFile, remote_class
from tts_proxy.replay.environment import ReplayQuestion
from tts_proxy.replay.evaluate import evaluate
from tts_proxy.replay.importers import load_replay
from tts_proxy.replay.synthetic import synthetic_question

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SHARED = ROOT.parent / "shared" / "data" / "autotts" / "Qwen3-8B" / "aime24.json"
SOURCE = """
from tts_proxy.controllers.cmc import ConfidenceMomentum


class SandboxedCMC(ConfidenceMomentum):
    name = "sandboxed_cmc"
"""


def _questions() -> tuple[str, list[ReplayQuestion]]:
    if SHARED.exists():
        return "Qwen3-8B/aime24 (shared)", load_replay(SHARED)
    return "synthetic", [synthetic_question(s, branches=64) for s in range(30)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="orderings per question")
    parser.add_argument("--beta", type=float, default=0.5)
    args = parser.parse_args()
    data, questions = _questions()
    local = evaluate(ConfidenceMomentum, questions, args.beta, repeats=args.repeats)
    sandboxed = remote_class(SandboxedFile(SOURCE, "sandboxed_cmc.py"))
    evaluate(sandboxed, questions[:1], args.beta, repeats=1)  # start the worker first
    start = time.perf_counter()
    remote = evaluate(sandboxed, questions, args.beta, repeats=args.repeats)
    remote_seconds = time.perf_counter() - start
    sandboxed.sandboxed.kill()
    same = (remote.accuracy, remote.tokens_per_question) == (
        local.accuracy,
        local.tokens_per_question,
    )
    decisions = remote.decisions
    report = {
        "machine": f"{platform.processor() or platform.machine()}",
        "data": data,
        "controller": "cmc",
        "beta": args.beta,
        "repeats": args.repeats,
        "decisions": decisions,
        "same_decisions": same,
        "in_process_seconds": round(local.seconds, 3),
        "sandboxed_seconds": round(remote_seconds, 3),
        "added_ms_per_round": round((remote_seconds - local.seconds) / decisions * 1000, 3),
        "goal_ms_per_round": 1.0,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sandbox_latency.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
