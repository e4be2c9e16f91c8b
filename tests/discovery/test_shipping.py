"""Choosing what ships: one objective for search points and agent files alike."""

from __future__ import annotations

from pathlib import Path

from tts_proxy.controllers.sandbox import Limits as SandboxLimits
from tts_proxy.discovery.curves import Curve, Point
from tts_proxy.discovery.history import Candidate, History, Measurement, Setup
from tts_proxy.discovery.shipping import Shipping, choose

PARAMS = {"family": "probe_exit", "probe_exit.k.lo": 2.0, "probe_exit.k.spread": 0.2,
          "probe_exit.geometric": False, "probe_exit.onset": 0.0}  # fmt: skip


def curve(*points: tuple[float, float]) -> Curve:
    pts = tuple(Point(i / max(1, len(points) - 1), a, t, (a,) * 4)
                for i, (a, t) in enumerate(points))  # fmt: skip
    return Curve(pts, (("m1", pts), ("m2", pts)))


REFS = {"sc": curve((0.3, 1000), (0.6, 100_000))}


def shipping(stitch: bool = True) -> Shipping:
    return Shipping(name="x", out=Path("out"), reports=Path("reports"), width=64, seed=0,
                    finalists=5, final_repeats=4, report_repeats=4, stitch=stitch,
                    sandbox=SandboxLimits(1 << 30))  # fmt: skip


def history(tmp_path: Path, *measured: tuple[Candidate, Curve]) -> History:
    h = History(tmp_path / "h.jsonl", Setup(search=[], betas=[0.0], repeats=4, seed=0,
                                            width=64, families=["probe_exit"]))  # fmt: skip
    for c, dense in measured:
        h.add(c)
        h.add(Measurement(id=c.id, repeats=4, curve=dense, value=0.0))
    return h


def point_and_agent(point: float, agent: float) -> tuple[Candidate, Candidate]:
    """A search point at 5k tokens and an agent's file at 1k, of these accuracies."""
    return (
        Candidate(id=0, round=0, proposer="tpe", status="ok", params=PARAMS,
                  curve=curve((point, 5000)), value=0.1),
        Candidate(id=1, round=0, proposer="agent", status="ok", source="class X: ...",
                  controller="x", curve=curve((agent, 1000)), value=0.0),
    )  # fmt: skip


def test_an_agent_file_ships_whole_when_its_own_chain_holds_the_higher_objective(
    tmp_path: Path,
) -> None:
    point, agent = point_and_agent(0.4, 0.9)
    h = history(tmp_path, (point, curve((0.4, 5000))), (agent, curve((0.9, 1000), (0.95, 50_000))))
    choice = choose(h, [agent, point], REFS, shipping())
    assert choice.agent is agent and not choice.knots


def test_a_weaker_agent_file_loses_to_the_chain_of_search_points(tmp_path: Path) -> None:
    point, agent = point_and_agent(0.5, 0.2)
    h = history(tmp_path, (point, curve((0.5, 5000))), (agent, curve((0.2, 1000), (0.3, 90_000))))
    choice = choose(h, [point, agent], REFS, shipping())
    assert choice.agent is None and any(k.source == 0 for k in choice.knots)
    assert choice.value > choice.builtins_value  # the point adds to the built-ins' chain


def test_the_history_round_trips_its_typed_records(tmp_path: Path) -> None:
    c = Candidate(id=0, round=0, proposer="tpe", status="ok", params=PARAMS,
                  curve=curve((0.5, 5000)), value=1.0)  # fmt: skip
    h = history(tmp_path, (c, curve((0.5, 5000))))
    again = History(h.path, h.setup)
    assert again.candidates == [c] and again.measurements[0].curve.to_json() == curve(
        (0.5, 5000)).to_json()  # fmt: skip
