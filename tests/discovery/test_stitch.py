"""Stitching: the frontier of operating points, and the one-knob controller through it."""

from __future__ import annotations

from pathlib import Path

from tests.discovery.conftest import write_environment
from tts_proxy.controllers import ControllerRegistry, Trust
from tts_proxy.controllers.base import Controller
from tts_proxy.controllers.cmc import ConfidenceMomentum
from tts_proxy.controllers.document import write_document
from tts_proxy.controllers.probe_exit import ProbeExit
from tts_proxy.controllers.sc import SelfConsistency
from tts_proxy.discovery import families, stitch
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


def test_a_dearer_much_better_point_is_not_blocked_by_a_cheaper_one_before_it() -> None:
    start, cheap, better, top = (
        K(0, 0, 1000, 0.20),
        K(1, 0, 1200, 0.25),
        K(2, 0, 1250, 0.40),
        K(3, 0, 5000, 0.50),
    )
    # In order of cost, ``cheap`` would be taken first and ``better`` be under 10% dearer.
    assert stitch.frontier([start, cheap, better, top]) == [start, better, top]


def test_a_searched_point_must_beat_the_builtins_clearly_to_replace_them() -> None:
    sc1 = K("sc", 0.0, 16_000, 0.283)
    tie = K(45, 0.9, 15_000, 0.283)  # 7% cheaper, as accurate: noise, the built-in stays
    clear = K(18, 0.3, 30_000, 0.40)  # no built-in is near: kept
    wide = K("cmc", 0.5, 200_000, 0.44)
    assert stitch.frontier([K("probe_exit", 0, 1756, 0.09), tie, sc1, clear, wide])[1:] == [
        sc1,
        clear,
        wide,
    ]


def test_the_builtins_own_frontier_is_always_followed_and_searched_points_fill_between() -> None:
    a = K("probe_exit", 0.0, 1000, 0.10)
    b1, b2, c = K("sc", 0.0, 5000, 0.32), K("sc", 0.1, 6000, 0.33), K("sc", 0.5, 10_000, 0.6)
    cheaper = K(7, 0.3, 4800, 0.40)  # more area than b1 and b2; the chain may not go around
    between = K(8, 0.3, 8000, 0.50)  # above the line from b2 to c: a knot of its own
    assert stitch.frontier([a, b1, b2, c, cheaper, between]) == [a, b1, b2, between, c]


def test_a_hop_must_rise_by_more_than_its_rise_varies_between_environments() -> None:
    a = K("sc", 0.0, 1000, 0.20, costs=(500, 1500))
    steep_on_one = K(3, 0.5, 2000, 0.50, costs=(2000, 2000))  # x4 on one, x1.33 on the other
    even = K(4, 0.5, 3000, 0.50, costs=(1500, 4500))  # x3 on both
    assert stitch.frontier([a, steep_on_one]) == [a]
    assert stitch.frontier([a, even]) == [a, even]


def test_a_lone_detour_to_a_third_builtin_is_followed_only_when_it_clearly_pays() -> None:
    sc1, cmc0 = K("sc", 0.0, 16_000, 0.283), K("cmc", 0.0, 70_000, 0.40)
    detour = K("parallel_probe", 0.6, 58_000, 0.30)  # 3.6x sc@1's cost for 1.7 points
    assert stitch.frontier([sc1, detour, cmc0]) == [sc1, cmc0]
    on_the_line = K("parallel_probe", 0.6, 58_000, 0.375)  # two hops for a tie: noise
    assert stitch.frontier([sc1, on_the_line, cmc0]) == [sc1, cmc0]
    above = K("parallel_probe", 0.6, 58_000, 0.39)  # 1.6 points above the line
    assert stitch.frontier([sc1, above, cmc0]) == [sc1, above, cmc0]


def test_a_detour_of_several_points_of_a_third_builtin_under_the_line_is_not_followed() -> None:
    sc1, cmc0 = K("sc", 0.0, 16_000, 0.283), K("cmc", 0.0, 71_000, 0.351)
    # Each a step up from the last, but 3x sc@1's cost for under a point: under the line.
    pp = [K("parallel_probe", 0.5, 49_500, 0.290), K("parallel_probe", 0.6, 58_500, 0.306)]
    assert stitch.frontier([sc1, *pp, cmc0]) == [sc1, cmc0]


def test_a_detour_between_two_points_of_one_controller_must_beat_that_controllers_curve() -> None:
    low, high = K("cmc", 0.0, 64_000, 0.472), K("cmc", 0.7, 271_000, 0.520)
    between = K("cmc", 0.25, 110_000, 0.486)  # cmc's own point, above the line low -> high
    sc = K("sc", 0.1, 105_000, 0.484)  # above the line, under cmc's curve there
    # The knob runs cmc from 0 to 0.7, through its point at 0.25, with no hop to sc and back.
    assert stitch.frontier([low, between, sc, high]) == [low, high]
    better = K("sc", 0.1, 105_000, 0.50)  # clearly above cmc's curve: worth two hops
    assert better in stitch.frontier([low, between, better, high])


def test_the_chain_starts_at_the_first_builtin_point_if_a_cheaper_one_cannot_reach_it() -> None:
    start, sc = K("probe_exit", 0.0, 1000, 0.10), K("sc", 0.0, 5000, 0.30)
    cheaper = K(5, 0.0, 950, 0.12)  # a hop from it to ``start`` would not rise 10% in cost
    assert stitch.frontier([cheaper, start, sc]) == [start, sc]


def test_along_one_controller_a_dearer_point_may_follow_without_a_gain() -> None:
    a = K("probe_exit", 0.6, 8300, 0.242)
    same = K("probe_exit", 1.0, 10_200, 0.246)  # the knob runs probe_exit from 0.6 to 1.0
    other = K("sc", 0.0, 10_200, 0.246)  # a hop to another controller for 0.4 points: noise
    assert stitch.frontier([a, same]) == [a, same]
    assert stitch.frontier([a, other]) == [a]


def test_beta_one_runs_the_top_controller_to_its_own_beta_one() -> None:
    cheap, top = K("probe_exit", 0.0, 1000, 0.10), K("cmc", 0.5, 10_000, 0.60)
    flat = [K("cmc", 0.75, 15_000, 0.59), K("cmc", 1.0, 20_000, 0.595)]  # no gain on search
    assert stitch.frontier([cheap, top, *flat]) == [cheap, top, *flat]


def test_pieces_follow_the_knots_in_order_of_cost() -> None:
    controllers: dict[stitch.Source, type[Controller]] = {
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
    controllers: dict[stitch.Source, type[Controller]] = {
        i: families.controller_class(f"c{i}", params) for i, params in enumerate(ANCHORS)
    }
    controllers |= {"sc": SelfConsistency, "probe_exit": ProbeExit}
    knots = []
    for source, cls in controllers.items():
        for beta in (0.0, 0.5, 1.0):
            ev = evaluate(cls, questions, beta, repeats=2)
            knots.append(K(source, beta, ev.tokens_per_question, ev.accuracy))
    chosen = stitch.frontier(knots)
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
