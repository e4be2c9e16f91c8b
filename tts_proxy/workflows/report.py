"""The planner's report, as JSON and PNG: score against trials for every method, and the
chosen plan's score against the budget."""

from __future__ import annotations

import json
from pathlib import Path

from tts_proxy.workflows.planner import PlanReport


def write_report(stem: Path, report: PlanReport) -> tuple[Path, Path]:
    """``<stem>.json`` and ``<stem>.png``."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    json_path, png_path = stem.with_suffix(".json"), stem.with_suffix(".png")
    json_path.write_text(json.dumps(report.model_dump(by_alias=True), indent=2) + "\n")
    plot(png_path, report)
    return json_path, png_path


def plot(path: Path, report: PlanReport) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (trials, budget) = plt.subplots(1, 2, figsize=(11, 4.2))
    for m in report.methods:
        trials.plot(range(1, len(m.median_curve) + 1), m.median_curve, label=m.method)
    if report.optimum_score is not None:
        trials.axhline(report.optimum_score, color="black", linestyle=":", label="optimum")
    trials.set_xscale("log")
    trials.set_xlabel("trials (plans measured)")
    trials.set_ylabel("best score within budget (median over seeds)")
    trials.set_title(f"{report.workflow}: search efficiency")
    trials.legend(fontsize=8)
    pts = [p for p in report.sweep if p.chosen_score is not None]
    budget.plot([p.budget for p in pts], [p.chosen_score for p in pts], marker="o",
                label=f"{report.method}'s plan")  # fmt: skip
    opt = [p for p in report.sweep if p.optimum_score is not None]
    budget.plot([p.budget for p in opt], [p.optimum_score for p in opt], linestyle=":",
                color="black", label="optimum")  # fmt: skip
    budget.axvline(report.budget, color="grey", alpha=0.5)
    budget.set_xscale("log")
    budget.set_xlabel("FLOPs budget per run")
    budget.set_ylabel("score")
    budget.set_title("chosen plan against the budget")
    budget.legend(fontsize=8)
    for ax in (trials, budget):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
