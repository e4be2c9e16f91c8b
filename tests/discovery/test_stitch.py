"""Stitching: a chosen chain of operating points rendered as one beta knob."""

from __future__ import annotations

from pathlib import Path

from tests.discovery.conftest import write_environment
from tts_proxy.controllers import ControllerRegistry, Trust
from tts_proxy.controllers.base import Controller, Limits
from tts_proxy.controllers.cmc import ConfidenceMomentum
from tts_proxy.controllers.document import write_document
from tts_proxy.controllers.probe_exit import ProbeExit
from tts_proxy.controllers.sc import SelfConsistency
from tts_proxy.discovery import families, stitch
from tts_proxy.discovery.loop import ANCHORS
from tts_proxy.discovery.objective import Knot, Source, select
from tts_proxy.replay.evaluate import evaluate
from tts_proxy.replay.importers import load_replay


def K(source: str | int, beta: float, tokens: float, accuracy: float) -> Knot:
    return Knot(source, beta, (tokens,), (accuracy,), (accuracy,))


def test_pieces_follow_the_knots_in_order_of_cost() -> None:
    controllers: dict[Source, type[Controller]] = {
        0: ConfidenceMomentum,
        "sc": SelfConsistency,
    }
    knots = [K(0, 0.0, 1000, 0.2), K(0, 0.4, 10_000, 0.5), K("sc", 0.2, 100_000, 0.8)]
    assert stitch.positions(knots) == [0.0, 0.5, 1.0]
    first, before, after = stitch.pieces(knots, controllers)
    assert (first.start, first.end, first.lo, first.hi) == (0.0, 0.5, 0.0, 0.4)
    assert first.controller is ConfidenceMomentum and first.local(0.25) == 0.2
    # Between knots of two controllers: the cheaper one to halfway, then the dearer one.
    assert (before.start, before.end, before.lo, before.hi) == (0.5, 0.75, 0.4, 0.4)
    assert (after.start, after.end, after.controller) == (0.75, 1.0, SelfConsistency)
    stitched = stitch.controller_class("s", knots, controllers)
    assert stitched.piece_at(0.9) == (SelfConsistency, 0.2)
    assert stitched.piece_at(0.25) == (ConfidenceMomentum, 0.2)


def test_a_stitched_controller_ships_as_data_and_spends_more_with_beta(
    tmp_path: Path,
) -> None:
    data = write_environment(tmp_path / "model" / "bench.json", questions=4)
    questions = load_replay(data)
    controllers: dict[Source, type[Controller]] = {
        i: families.controller_class(f"c{i}", params) for i, params in enumerate(ANCHORS)
    }
    controllers |= {"sc": SelfConsistency, "probe_exit": ProbeExit}
    knots = []
    for source, cls in controllers.items():
        for beta in (0.0, 0.5, 1.0):
            ev = evaluate(cls, questions, beta, repeats=2)
            knots.append(K(source, beta, ev.tokens_per_question, ev.accuracy))
    chosen = select(knots)
    assert len(chosen) >= 2

    path = tmp_path / "shipped" / "stitched.json"
    path.parent.mkdir()
    write_document(path, stitch.document("stitched", chosen, controllers, "Stitched for a test."))
    registry = ControllerRegistry([path.parent])
    (file,) = registry.files
    assert file.trust is Trust.DATA, file.reason  # the parts have no name: one controller
    loaded = registry.get("stitched")

    at_knots = [
        evaluate(loaded, questions, beta, repeats=2).tokens_per_question
        for beta in stitch.positions(chosen)
    ]
    assert at_knots == [k.tokens for k in chosen]  # same seeds: each knot is reproduced


def test_the_summary_names_each_run_once_with_its_settings_at_both_ends() -> None:
    controllers: dict[Source, type[Controller]] = {"probe_exit": ProbeExit, "sc": SelfConsistency}
    knots = [K("probe_exit", 0.0, 1000, 0.1), K("probe_exit", 1.0, 5000, 0.4),
             K("sc", 0.0, 15_000, 0.5)]  # fmt: skip
    line = stitch.summary(knots, controllers, Limits(max_branches=64))
    assert line.startswith("probe_exit (beta 0-")
    assert "k 2->8" in line and line.endswith("sc (beta 1; width 1)")
