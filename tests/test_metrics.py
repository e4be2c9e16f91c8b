"""Metrics: what a TTS request counts, and a Grafana dashboard that only uses real metrics."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes import FakeModelServer, Script
from tts_proxy.api.app import create_app
from tts_proxy.metrics import Metrics
from tts_proxy.settings import Settings

DASHBOARD = Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "tts-proxy.json"


def exported_names(metrics: Metrics) -> set[str]:
    names = set()
    for family in metrics.registry.collect():
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names |= {f"{family.name}_{s}" for s in ("bucket", "sum", "count")}
        else:
            names.add(family.name)
    return names


def test_every_dashboard_expression_names_an_exported_metric() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 10
    exported = exported_names(Metrics())
    used = {name for e in exprs for name in re.findall(r"\btts_[a-z_]+", e)}
    assert used - exported == set()
    assert {"tts_tokens_total", "tts_estimated_tokens_saved_total"} <= used


def test_metric_names_follow_the_conventions() -> None:
    for family in Metrics().registry.collect():
        assert family.name.startswith("tts_")
        assert not re.search(r"_(ms|milliseconds|minutes)$", family.name)
        for sample in family.samples:
            assert "request_id" not in sample.labels


def test_replay_savings_gauges_read_the_report(tmp_path: Path) -> None:
    path = tmp_path / "savings.json"
    metrics = Metrics(path)
    assert "tts_replay_savings_ratio{" not in metrics.render().decode()
    point = {"beta": 0.5, "savings_ratio": 0.83, "accuracy_delta_points": -0.26}
    path.write_text(json.dumps({"baseline": "sc@64", "data": "AIME24", "source": "test",
                                "controllers": {"cmc": [point]}}))  # fmt: skip
    text = metrics.render().decode()
    labels = {"controller": "cmc", "beta": "0.5", "baseline": "sc@64"}
    assert sample(text, "tts_replay_savings_ratio", **labels) == 0.83
    assert sample(text, "tts_replay_accuracy_delta_points", **labels) == -0.26


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    server = FakeModelServer([Script(3, "4", ["4", "4", "4"])])
    settings = Settings(backend_url="http://fake", chunk_tokens=8, trace_dir=tmp_path / "t",
                        savings_file=None)  # fmt: skip
    transport = httpx.ASGITransport(app=create_app(settings, server))
    async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as c:
        yield c


def sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    raise AssertionError(f"{name}{labels} not exported")


@pytest.mark.anyio
async def test_a_tts_request_is_counted(client: httpx.AsyncClient) -> None:
    body = {"model": "fake", "messages": [{"role": "user", "content": "hi"}],
            "tts": {"controller": "sc", "beta": 1.0, "max_branches": 3}}  # fmt: skip
    data = (await client.post("/v1/chat/completions", json=body)).json()
    text = (await client.get("/metrics")).text
    labels = {"controller": "sc", "model": "fake"}
    assert sample(text, "tts_requests_total", outcome="ok", **labels) == 1
    assert sample(text, "tts_tokens_total", kind="branch", **labels) == data["tts"]["branch_tokens"]
    assert sample(text, "tts_tokens_total", kind="prompt", **labels) == 2
    assert (
        sample(text, "tts_estimated_tokens_saved_total", **labels)
        == (data["tts"]["estimated_tokens_saved"])
    )
    baseline = data["tts"]["baseline"]
    assert sample(text, "tts_baseline_tokens_total", **labels) == baseline["tokens"]
    live = sample(text, "tts_live_savings_ratio", controller="sc")
    assert live == pytest.approx(1 - data["tts"]["tokens"] / baseline["tokens"])
    assert sample(text, "tts_branches_per_request_count", controller="sc") == 1
    assert sample(text, "tts_branches_per_request_sum", controller="sc") == 3
    assert sample(text, "tts_requests_in_flight") == 1  # the /metrics request itself


@pytest.mark.anyio
async def test_unknown_models_are_labelled_other(client: httpx.AsyncClient) -> None:
    body = {"model": "x" * 40, "messages": [{"role": "user", "content": "hi"}]}
    await client.post("/v1/chat/completions", json=body)
    text = (await client.get("/metrics")).text
    assert sample(text, "tts_requests_total", controller="none", model="other") == 1
