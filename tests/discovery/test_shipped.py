"""The controller discovery shipped in ``controllers/`` is what its report says it is:
re-measured on the held-out AIME24 environments, its curve and the verdict against the
built-ins come out as reported, and it is a data document (no code) that the proxy serves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import shared_file
from tts_proxy.controllers import ControllerRegistry, Trust
from tts_proxy.discovery.curves import Curve, compare, measure
from tts_proxy.discovery.environments import Environment, load_environment
from tts_proxy.discovery.report import TOLERANCE_POINTS

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "reports" / "discovered.json"
FILE = ROOT / "controllers" / "discovered.json"


def held_out(report: dict[str, object]) -> list[Environment]:
    envs = []
    for e in report["data"]["held_out"]:  # type: ignore[index]
        model, bench = str(e["name"]).split("/")
        envs.append(load_environment(shared_file("autotts", model, f"{bench}.json")))
    return envs


@pytest.mark.skipif(not REPORT.exists(), reason="no discovered controller has been shipped")
def test_the_shipped_controller_measures_as_reported() -> None:
    report = json.loads(REPORT.read_text())
    envs = held_out(report)
    cls = ControllerRegistry([FILE.parent]).get("discovered")
    section = report["held_out"]
    # Replayed afresh (no memo): the report, measured with one, must come out the same.
    fresh = measure(cls, envs, section["betas"], repeats=section["repeats"], memo=None)
    reported = Curve.from_json(section["candidate"])
    for a, b in zip(fresh.points, reported.points, strict=True):
        assert a.accuracy == pytest.approx(b.accuracy) and a.tokens == pytest.approx(b.tokens)
    builtins = {n: Curve.from_json(c) for n, c in section["builtins"].items()}
    gaps = compare(fresh, builtins)
    assert all(g.holds(TOLERANCE_POINTS) for g in gaps) == section["comparison"]["dominates"]
    # One built-in re-measured too: the reference numbers are fresh, not copied.
    reference = builtins["probe_exit"]
    betas = [p.beta for p in reference.points]
    probe_exit = measure(ControllerRegistry().get("probe_exit"), envs, betas,
                         repeats=section["repeats"], memo=None)  # fmt: skip
    assert probe_exit.points == reference.points


@pytest.mark.skipif(not FILE.exists(), reason="no discovered controller has been shipped")
def test_the_shipped_controller_is_data_that_the_proxy_serves() -> None:
    registry = ControllerRegistry([FILE.parent])
    (file,) = (f for f in registry.files if f.path == str(FILE))
    assert file.trust is Trust.DATA and [c.name for c in file.controllers] == ["discovered"]
