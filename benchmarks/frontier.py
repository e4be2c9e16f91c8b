"""Accuracy-tokens frontier of every built-in controller (and the shipped ones, `controllers/`) on
the shared AIME24 replay data.

Sweeps beta for each controller (and k for self-consistency, as SC@k) on each model's
environment, each point averaged over R seeded orderings of the 128 recorded trajectories,
and writes a markdown table, a JSON file and a PNG (accuracy vs tokens per question, log x,
one panel per model, one curve per controller).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from tts_proxy.controllers import ControllerRegistry
from tts_proxy.controllers.base import Limits
from tts_proxy.replay.evaluate import evaluate
from tts_proxy.replay.importers import load_replay
from tts_proxy.savings import ReferencePoint, SavingsReport

MODELS = ["Qwen3-0.6B", "Qwen3-1.7B", "Qwen3-4B", "Qwen3-8B"]
BETAS = [0.0, 0.25, 0.5, 0.75, 1.0]
SC_K = [1, 2, 4, 8, 16, 32, 64]
WIDTH = 64
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "autotts"
SHIPPED = Path(__file__).resolve().parents[1] / "controllers"


def sweep_model(model: str, data_dir: str, repeats: int) -> list[dict[str, Any]]:
    registry = ControllerRegistry([SHIPPED], untrusted="refuse")  # + the shipped documents
    questions = load_replay(Path(data_dir) / model / "aime24.json")
    rows = []
    points: list[tuple[str, float, int]] = [("sc", 1.0, k) for k in SC_K]
    # explore is the logging mode: every branch to the end at any beta, no operating point.
    points += [(n, b, WIDTH) for n in registry.names() if n not in ("sc", "explore")
               for b in BETAS]  # fmt: skip
    for name, beta, width in points:
        ev = evaluate(registry.get(name), questions, beta, limits=Limits(max_branches=width),
                      repeats=repeats)  # fmt: skip
        label = f"sc@{width}" if name == "sc" else f"{name} b={beta}"
        rows.append({"model": model, "point": label} | ev.summary() | {"max_branches": width})
    return rows


def savings(rows: list[dict[str, Any]]) -> SavingsReport:
    """The proxy's reference (``tts_proxy.savings``): each controller at each beta, its tokens
    saved against SC@64 and its accuracy against SC@64's, averaged over the four models."""
    controllers: dict[str, list[ReferencePoint]] = {}
    for name in sorted({r["controller"] for r in rows} - {"sc"}):
        points = []
        for beta in BETAS:
            ratios, deltas = [], []
            for model in MODELS:
                at = {r["point"]: r for r in rows if r["model"] == model}
                sc, mine = at[f"sc@{WIDTH}"], at[f"{name} b={beta}"]
                ratios.append(1 - mine["tokens_per_question"] / sc["tokens_per_question"])
                deltas.append(100 * (mine["accuracy"] - sc["accuracy"]))
            ratio, delta = round(sum(ratios) / 4, 4), round(sum(deltas) / 4, 2)
            points.append(
                ReferencePoint(beta=beta, savings_ratio=ratio, accuracy_delta_points=delta)
            )
        controllers[name] = points
    data = "AIME24 replay, Qwen3 0.6B/1.7B/4B/8B (for a discovered controller: its search set too)"
    return SavingsReport(baseline=f"sc@{WIDTH}", data=data,
                         source="benchmarks/frontier.py", controllers=controllers)  # fmt: skip


def write_table(rows: list[dict[str, Any]], path: Path) -> None:
    lines = ["| model | point | accuracy % | tokens/question | replay s |", "|---|---|---|---|---|"]
    lines += [
        f"| {r['model']} | {r['point']} | {r['accuracy'] * 100:.1f} | "
        f"{r['tokens_per_question'] / 1000:.1f}k | {r['seconds']:.2f} |"
        for r in rows
    ]
    path.write_text("\n".join(lines) + "\n")


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(MODELS), figsize=(5 * len(MODELS), 4.2), sharey=False)
    for ax, model in zip(axes, MODELS, strict=True):
        mine = [r for r in rows if r["model"] == model]
        for name in sorted({r["controller"] for r in mine}):
            pts = sorted(
                (r["tokens_per_question"], r["accuracy"] * 100)
                for r in mine
                if r["controller"] == name
            )
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, label=name)
        ax.set_xscale("log")
        ax.set_title(f"{model} AIME24")
        ax.set_xlabel("tokens per question")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy %")
    axes[-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--repeats", type=int, default=16)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument(
        "--savings",
        type=Path,
        default=Path("reports/savings.json"),
        help="where the proxy's tts_replay_savings_ratio gauge reads from",
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    if not (args.data / MODELS[0] / "aime24.json").exists():
        raise SystemExit(f"no AutoTTS replay data under {args.data} (expected ../shared/data)")
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        parts = pool.map(sweep_model, MODELS, [str(args.data)] * 4, [args.repeats] * 4)
        rows = [r for part in parts for r in part]
    args.out.mkdir(parents=True, exist_ok=True)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"
    meta = {
        "data": str(args.data),
        "repeats": args.repeats,
        "seconds": time.perf_counter() - start,
        "machine": machine,
    }
    (args.out / "frontier.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    write_table(rows, args.out / "frontier.md")
    plot(rows, args.out / "frontier.png")
    args.savings.parent.mkdir(parents=True, exist_ok=True)
    args.savings.write_text(savings(rows).model_dump_json(by_alias=True, indent=1) + "\n")
    print(f"wrote {args.out}/frontier.{{md,json,png}} in {meta['seconds']:.0f} s")


if __name__ == "__main__":
    main()
