"""Choosing what ships: one objective for search points and agent files alike."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from tests.controllers.test_document import WAVES
from tests.discovery.conftest import two_models
from tts_proxy.controllers import controllers_in_source
from tts_proxy.controllers.document import FileSpec, load_document
from tts_proxy.controllers.sandbox import Limits as SandboxLimits
from tts_proxy.discovery.curves import Curve, Point, measure
from tts_proxy.discovery.environments import split_environments
from tts_proxy.discovery.history import Candidate, History, Measurement, Setup
from tts_proxy.discovery.shipping import Shipping, choose, render, shipped_class

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


def test_an_agent_files_points_are_knots_like_any_other(tmp_path: Path) -> None:
    point, agent = point_and_agent(0.4, 0.9)
    h = history(tmp_path, (point, curve((0.4, 5000))), (agent, curve((0.9, 1000), (0.95, 50_000))))
    choice = choose(h, [agent, point], REFS, shipping())
    assert choice.agent is None and {k.source for k in choice.knots} == {agent.id}
    assert choice.value > choice.builtins_value


def test_a_weaker_agent_file_loses_to_the_chain_of_search_points(tmp_path: Path) -> None:
    point, agent = point_and_agent(0.5, 0.2)
    h = history(tmp_path, (point, curve((0.5, 5000))), (agent, curve((0.2, 1000), (0.3, 90_000))))
    choice = choose(h, [point, agent], REFS, shipping())
    assert choice.agent is None and any(k.source == 0 for k in choice.knots)
    assert all(k.source != agent.id for k in choice.knots)
    assert choice.value > choice.builtins_value  # the point adds to the built-ins' chain


def test_without_stitching_the_best_finalist_ships_whole_an_agents_file_too(
    tmp_path: Path,
) -> None:
    point, agent = point_and_agent(0.4, 0.9)
    h = history(tmp_path, (point, curve((0.4, 5000))), (agent, curve((0.9, 1000), (0.95, 50_000))))
    choice = choose(h, [agent, point], REFS, shipping(stitch=False))
    assert choice.agent is agent and not choice.knots


@pytest.mark.timeout(300)
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_a_chain_through_an_agents_file_ships_it_pinned_and_is_measured_as_served(
    tmp_path: Path,
) -> None:
    split = split_environments(two_models(tmp_path / "data"), held_out=["model-b"])
    agent = Candidate(id=1, round=0, proposer="agent", status="ok", source=WAVES,
                      controller="waves", curve=curve((0.9, 1000)), value=0.0)  # fmt: skip
    h = history(tmp_path, (agent, curve((0.9, 1000), (0.95, 50_000))))
    s = replace(shipping(), out=tmp_path / "controllers", reports=tmp_path / "reports")
    choice = choose(h, [agent], REFS, s)
    assert [(k.source, k.beta) for k in choice.knots] == [(1, 0.0), (1, 1.0)]
    path = render(choice, h, split, s, chunk=500)
    doc = load_document(path)
    assert "Beta runs: candidate 1 (agent's file)" in " ".join(doc.description.split())
    piece = doc.controller.pieces[0].controller  # type: ignore[union-attr]
    assert isinstance(piece, FileSpec)
    assert piece.sha256 == hashlib.sha256(WAVES.encode()).hexdigest()
    assert (path.parent / piece.path).read_text() == WAVES  # as it was measured
    # The held-out report measures the document as the proxy builds it: the file, sandboxed.
    served = shipped_class(path)
    (file,) = controllers_in_source(WAVES, "waves.py")
    envs, betas = split.held_out, (0.0, 1.0)
    there = measure(served, envs, betas, repeats=2, seed=0, width=8, memo=None)
    here = measure(file, envs, betas, repeats=2, seed=0, width=8, memo=None)
    assert there.faults == here.faults == ()  # a fault here names what went wrong in the sandbox
    assert there.to_json() == here.to_json()


def test_the_history_round_trips_its_typed_records(tmp_path: Path) -> None:
    c = Candidate(id=0, round=0, proposer="tpe", status="ok", params=PARAMS,
                  curve=curve((0.5, 5000)), value=1.0)  # fmt: skip
    h = history(tmp_path, (c, curve((0.5, 5000))))
    again = History(h.path, h.setup)
    assert again.candidates == [c] and again.measurements[0].curve.to_json() == curve(
        (0.5, 5000)).to_json()  # fmt: skip


def test_a_mixed_chain_pins_only_the_agents_files_and_a_later_ship_prunes_them(
    tmp_path: Path,
) -> None:
    split = split_environments(two_models(tmp_path / "data"), held_out=["model-b"])
    point = Candidate(id=0, round=0, proposer="tpe", status="ok", params=PARAMS,
                      curve=curve((0.95, 50_000)), value=0.1)  # fmt: skip
    agent = Candidate(id=1, round=0, proposer="agent", status="ok", source=WAVES,
                      controller="waves", curve=curve((0.5, 1000)), value=0.0)  # fmt: skip
    h = history(tmp_path, (point, curve((0.95, 50_000))), (agent, curve((0.5, 1000))))
    s = replace(shipping(), out=tmp_path / "controllers", reports=tmp_path / "reports")
    choice = choose(h, [point, agent], REFS, s)
    assert [k.source for k in choice.knots] == [agent.id, point.id]  # cheap agent, then point
    path = render(choice, h, split, s, chunk=500)
    kinds = [p.controller.kind for p in load_document(path).controller.pieces]  # type: ignore[union-attr]
    assert kinds[0] == "file" and kinds[-1] == "family"
    assert len(list((s.out / "x_files").glob("*.py"))) == 1  # the agent's; the point is data
    data_only = choose(h, [point], REFS, s)
    render(data_only, h, split, s, chunk=500)
    assert not (s.out / "x_files").exists()  # nothing pins the agent's file any more
