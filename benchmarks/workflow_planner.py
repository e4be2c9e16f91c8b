"""Search efficiency of the workflow planner's methods, as AgentTTS reports it: trials (plans
measured) until a method's best plan within the budget is within 1% of the exhaustive
optimum, and until it is the optimum itself -- median over seeds, per method and grid.

Grids: synthetic workflows (3 stages x 3 models x 5 sample counts; all three regularities
built in) and the draft/escalate cascade built from the shared AIME24 replay files of four
Qwen3 sizes (real trajectories; ../shared/data/autotts). Each at budgets at several shares
(log scale) between the cheapest and the dearest plan. No model is called. For the cascade,
the insight search's plan is also chosen on 70% of the questions and scored on the other 30%.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from tts_proxy.workflows.data import load_environment
from tts_proxy.workflows.environment import Table, WorkflowEnvironment
from tts_proxy.workflows.grids import budget_at, synthetic
from tts_proxy.workflows.planner import compare, exhaustive, plan_workflow
from tts_proxy.workflows.search import METHODS

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "autotts"


def grids(synthetic_seeds: int) -> list[tuple[str, WorkflowEnvironment]]:
    out = [(f"synthetic-{s}", synthetic(s)) for s in range(synthetic_seeds)]
    if SHARED.is_dir():
        out.append(("aime24-cascade", load_environment(SHARED, workflow="cascade")))
    else:
        print(f"(no {SHARED}: the replay cascade is skipped)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=10, help="seeds per method")
    parser.add_argument("--synthetic", type=int, default=3, help="synthetic grids")
    parser.add_argument("--shares", type=float, nargs="+", default=[0.3, 0.5, 0.7])
    parser.add_argument("--max-trials", type=int, default=600)
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/workflow_planner.json")
    )
    args = parser.parse_args()
    start = time.perf_counter()
    rows = []
    for name, env in grids(args.synthetic):
        table = Table(env)
        for share in args.shares:
            budget = budget_at(env, share)
            optimum = exhaustive(table, budget, None)
            if optimum is None:
                continue
            summaries = compare(table, budget, METHODS, seeds=args.seeds,
                                max_trials=args.max_trials, questions=None,
                                optimum=optimum.score)  # fmt: skip
            row = {"grid": name, "plans": table.size(), "budget_share": share,
                   "optimum": round(optimum.score, 5),
                   "methods": {m.method: {"median_to_within_1pct": m.median_to_within_1pct,
                                          "median_to_optimum": m.median_to_optimum,
                                          "to_optimum": m.trials_to_optimum}
                               for m in summaries}}  # fmt: skip
            rows.append(row)
            print(json.dumps({k: row[k] for k in ("grid", "budget_share", "optimum")}
                             | {m: (v["median_to_within_1pct"], v["median_to_optimum"])
                                for m, v in row["methods"].items()}), flush=True)  # fmt: skip
    held_out = None
    cascade = dict(grids(0)).get("aime24-cascade")
    if cascade is not None:
        table = Table(cascade)
        _, report = plan_workflow(table, budget_at(cascade, 0.5), {"insight": METHODS["insight"]},
                                  method="insight", seeds=1, sweep=False)  # fmt: skip
        held_out = report.chosen.model_dump() if report.chosen else None
    wins = sum(
        all(r["methods"]["insight"][k] is not None and (r["methods"][m][k] is None
            or r["methods"]["insight"][k] < r["methods"][m][k]) for m in ("tpe", "random"))
        for r in rows for k in ("median_to_optimum",)
    )  # fmt: skip
    result = {
        "rows": rows, "seeds": args.seeds, "max_trials": args.max_trials,
        "insight_fewer_trials_to_optimum_than_tpe_and_random": f"{wins} of {len(rows)}",
        "cascade_held_out": held_out,
        "seconds": round(time.perf_counter() - start, 1),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}))


if __name__ == "__main__":
    main()
