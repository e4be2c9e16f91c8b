"""Discovery's report: the winner's held-out curve against every built-in, as JSON and PNG."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tts_proxy.discovery.curves import Curve, Gap

TOLERANCE_POINTS = 0.5


def comparison(gaps: list[Gap]) -> dict[str, Any]:
    """The verdict: on or above every reference point, within the tolerance."""
    worst = min(gaps, key=lambda g: g.difference) if gaps else None
    return {
        "tolerance_points": TOLERANCE_POINTS,
        "dominates": all(g.holds(TOLERANCE_POINTS) for g in gaps),
        "points_checked": len(gaps),
        "points_below": sum(1 for g in gaps if not g.holds(TOLERANCE_POINTS)),
        "worst": None if worst is None else _gap_json(worst),
        "gaps": [_gap_json(g) for g in gaps],
    }


def _gap_json(g: Gap) -> dict[str, Any]:
    return {
        "reference": g.reference,
        "beta": g.beta,
        "tokens": round(g.tokens, 1),
        "accuracy": round(g.accuracy, 5),
        "candidate_accuracy": None
        if g.candidate_accuracy is None
        else round(g.candidate_accuracy, 5),
        "difference_points": round(g.difference, 3),
    }


def write_report(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")


def plot(path: Path, name: str, candidate: Curve, references: dict[str, Curve]) -> None:
    """One panel for the mean over held-out environments, one per environment (log x)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("held-out mean", candidate.points, {n: c.points for n, c in references.items()})]
    for env, pts in candidate.per_environment:
        refs = {n: dict(c.per_environment).get(env, ()) for n, c in references.items()}
        panels.append((env, pts, refs))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.5), squeeze=False)
    for ax, (title, pts, refs) in zip(axes[0], panels, strict=True):
        for ref_name, ref_pts in refs.items():
            ax.plot(
                [p.tokens for p in ref_pts],
                [p.accuracy * 100 for p in ref_pts],
                marker=".",
                linewidth=1,
                alpha=0.8,
                label=ref_name,
            )
        ax.plot(
            [p.tokens for p in pts],
            [p.accuracy * 100 for p in pts],
            marker="o",
            color="black",
            linewidth=2.5,
            label=name,
        )
        ax.set_xscale("log")
        ax.set_title(title)
        ax.set_xlabel("tokens per question")
        ax.set_ylabel("accuracy %")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
