"""Worst-case cost of answer work on hostile model output, on one core.

Every answer of the hostile corpus (``tests/answers/corpus.py``) goes through what the proxy
does with model text: extraction from a branch that ends in ``\\boxed{<answer>}``, its key
(``answer_key``, workers included) and its grade against a symbolic gold answer
(``equivalent``). Each call is timed with the proxy's caches cleared, in ``--repeats`` rounds,
each on a fresh worker (its caches cold but for its start-up warm-up); the report gives the
slowest time of each answer and the worst over the corpus, against the goal of 50 ms. The
process and its answer workers are pinned to one core.

    python benchmarks/hostile_answers.py [--repeats 5]
Writes benchmarks/results/hostile_answers.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
GOLD = "\\frac{9\\sqrt{23}}{23}"
GOAL_MS = 50.0


@dataclass(frozen=True)
class Row:
    """One answer's slowest cold calls, in milliseconds."""

    answer: str
    key: str
    extract_ms: float
    key_ms: float
    grade_ms: float

    def slowest(self) -> float:
        return max(self.extract_ms, self.key_ms, self.grade_ms)


def _ms(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="rounds, each on fresh workers")
    args = parser.parse_args()
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # workers inherit it
    sys.path.insert(0, str(ROOT))
    from tests.answers.corpus import HOSTILE
    from tts_proxy.answers import answer_key, equivalent, extract_answer, grading, keys
    from tts_proxy.answers import workers as answer_workers
    from tts_proxy.answers.symbolic import warm_up

    times: dict[str, list[tuple[float, float, float]]] = {a: [] for a in HOSTILE}
    cut_off = 0
    for _ in range(args.repeats):  # each round on a fresh worker, caches cold but its warm-up
        pool = answer_workers.configure(1)
        pool.call(warm_up, (), fallback=None)
        for answer in HOSTILE:
            keys._memo.recent.clear()
            grading._grades.clear()
            text = f"Let me think.\n\nThe answer is \\boxed{{{answer}}}."
            times[answer].append((
                _ms(partial(extract_answer, text)),
                _ms(partial(answer_key, answer)),
                _ms(partial(equivalent, answer, GOLD)),
            ))  # fmt: skip
        cut_off += pool.cut_off
    rows = [
        Row(
            answer=answer if len(answer) <= 60 else answer[:57] + "...",
            key=answer_key(answer)[:60],
            extract_ms=round(max(t[0] for t in measured), 2),
            key_ms=round(max(t[1] for t in measured), 2),
            grade_ms=round(max(t[2] for t in measured), 2),
        )
        for answer, measured in times.items()
    ]
    worst = max(rows, key=Row.slowest)
    report = {
        "machine": f"{platform.processor() or platform.machine()}, 1 core pinned",
        "corpus": len(rows),
        "repeats": args.repeats,
        "worker_time_limit_s": answer_workers.shared().timeout,
        "cut_off_calls": cut_off,
        "worst_ms": round(worst.slowest(), 2),
        "worst_answer": worst.answer,
        "median_ms": round(statistics.median(r.slowest() for r in rows), 2),
        "goal_ms": GOAL_MS,
        "over_goal": [r.answer for r in rows if r.slowest() > GOAL_MS],
        "rows": [asdict(r) for r in rows],
    }
    answer_workers.shared().close()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "hostile_answers.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "rows"}, indent=2))


if __name__ == "__main__":
    main()
