"""Stitching: the frontier of operating points, and the one-knob controller through it."""

from __future__ import annotations

from pathlib import Path

from tests.discovery.conftest import write_environment
from tts_proxy.controllers.base import Ramp
from tts_proxy.controllers.cmc import ConfidenceMomentum
from tts_proxy.discovery import families, stitch
from tts_proxy.discovery.gate import check_file
from tts_proxy.discovery.loop import ANCHORS
from tts_proxy.replay.evaluate import evaluate
from tts_proxy.replay.importers import load_replay

K = stitch.Knot


def test_the_frontier_keeps_only_points_no_cheaper_point_matches() -> None:
    knots = [
        K(0, 0.0, 1000, 0.20),
        K(1, 0.0, 1050, 0.30),  # better, but under 10% dearer than the last kept: dropped
        K(1, 0.5, 3000, 0.50),
        K(0, 1.0, 4000, 0.45),  # dearer and worse: dropped
        K(2, 0.3, 9000, 0.70),
        K(2, 0.6, 9000, 0.60),  # same cost, worse
    ]
    assert stitch.frontier(knots) == [knots[0], knots[2], knots[4]]


def test_a_knot_must_cost_more_on_every_search_environment_and_gain_more_than_noise() -> None:
    first = K(0, 0.0, 1000, 0.20, costs=(500, 1500))
    cheaper_on_one = K(1, 0.5, 2000, 0.40, costs=(3500, 500))
    barely_better = K(1, 0.6, 2500, 0.203, costs=(1000, 4000))
    kept = K(2, 0.2, 3000, 0.30, costs=(1000, 5000))
    assert stitch.frontier([first, cheaper_on_one, barely_better, kept]) == [first, kept]


def test_segments_follow_the_knots_in_order_of_cost() -> None:
    ramps: dict[int, dict[str, Ramp]] = {0: {}, 1: {}}
    knots = [K(0, 0.0, 1000, 0.2), K(0, 0.4, 10_000, 0.5), K(1, 0.2, 100_000, 0.8)]
    assert stitch.positions(knots) == [0.0, 0.5, 1.0]
    first, before, after = stitch.segments(knots, ramps)
    assert (first.start, first.end, first.lo, first.hi) == (0.0, 0.5, 0.0, 0.4)
    assert first.ramps is ramps[0] and first.local(0.25) == 0.2
    # Between knots of two candidates: the cheaper one to halfway, then the dearer one.
    assert (before.start, before.end, before.lo, before.hi) == (0.5, 0.75, 0.4, 0.4)
    assert (after.start, after.end, after.ramps) == (0.75, 1.0, ramps[1])


def test_a_stitched_controller_renders_passes_the_gate_and_spends_more_with_beta(
    tmp_path: Path,
) -> None:
    data = write_environment(tmp_path / "model" / "bench.json", questions=4)
    questions = load_replay(data)
    ramps = {i: families.ramps(params) for i, params in enumerate(ANCHORS)}
    knots = []
    for cid in ramps:
        cls = type(f"c{cid}", (ConfidenceMomentum,), {"name": f"c{cid}", "ramps": ramps[cid]})
        for beta in (0.0, 0.5, 1.0):
            ev = evaluate(cls, questions, beta, repeats=2)
            knots.append(K(cid, beta, ev.tokens_per_question, ev.accuracy))
    chosen = stitch.frontier(knots)
    assert len(chosen) >= 2

    path = tmp_path / "stitched.py"
    path.write_text(stitch.render("stitched", chosen, ramps, "Stitched for a test."))
    result = check_file(path, data=[data])
    assert result.ok, result.reason

    cls = stitch.controller_class("stitched", chosen, ramps)
    at_knots = [
        evaluate(cls, questions, beta, repeats=2).tokens_per_question
        for beta in stitch.positions(chosen)
    ]
    assert at_knots == [k.tokens for k in chosen]  # same seeds: each knot is reproduced
