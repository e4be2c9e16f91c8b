"""The discovery loop end to end on synthetic replay files: parameter search, an agent that
writes junk, a recorded good proposal shipped and hot-loaded by a running proxy, resume."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from tests.discovery.conftest import two_models
from tests.discovery.test_agent import endpoint, reply
from tests.fakes import FakeModelServer, Script
from tts_proxy.api.app import create_app
from tts_proxy.controllers import ControllerRegistry
from tts_proxy.controllers.document import load_document
from tts_proxy.discovery import families
from tts_proxy.discovery.agent import AgentProposer
from tts_proxy.discovery.curves import REPORT_BETAS, measure
from tts_proxy.discovery.environments import split_environments
from tts_proxy.discovery.loop import DiscoverOptions, Discovery
from tts_proxy.service import TTSService
from tts_proxy.settings import Settings

# A reply as an agent model wrote it: prose around one file.
RECORDED_REPLY = '''Here is a controller that widens with beta and stops on a clear majority.

```python
from tts_proxy.actions import Answer, Branch, Continue
from tts_proxy.controllers.base import Controller, interpolate


class MajorityWidening(Controller):
    """Branches run to the end in waves; stop once the leader holds a clear majority."""

    name = "majority_widening"

    def decide(self, view):
        width = 1 + round(interpolate(1, 15, self.beta))
        running = [Continue(b.id, to_end=True) for b in view.active]
        if running:
            return running
        votes = view.final_votes().most_common(2)
        if votes and len(view.branches) >= 3:
            lead = votes[0][1] - (votes[1][1] if len(votes) > 1 else 0)
            if lead >= 2 + round(4 * self.beta):
                return [Answer()]
        room = min(width - len(view.branches), view.can_branch)
        return [Branch(min(2, room), to_end=True)] if room > 0 else [Answer()]
```
'''


def options(tmp_path: Path, **kw: object) -> DiscoverOptions:
    base: dict[str, object] = dict(
        out=tmp_path / "controllers",
        reports=tmp_path / "reports",
        name="found",
        rounds=1,
        trials=2,
        repeats=1,
        final_repeats=2,
        report_repeats=2,
    )
    return DiscoverOptions(**(base | kw))  # type: ignore[arg-type]


def history(opts: DiscoverOptions) -> list[dict[str, object]]:
    return [json.loads(line) for line in opts.history_path.read_text().splitlines()]


def test_parameter_search_alone_ships_a_controller_document_and_a_report(tmp_path: Path) -> None:
    split = split_environments(two_models(tmp_path / "data"), held_out=["model-b"])
    opts = options(tmp_path)
    report = Discovery(split, opts).run()
    assert report["search"]["agent"] == "none given: parameter search only"
    assert report["proposer"] == "stitched" and report["search"]["candidates"] == 3  # + learned
    # The chain the objective chose over candidates and built-ins, described run by run.
    assert report["search"]["objective"] is not None and report["knots"]
    shipped = load_document(opts.out / "found.json")  # data, not code
    assert shipped.name == "found" and shipped.controller.kind == "stitched"
    assert "Discovered by `tts-proxy discover`" in shipped.description
    assert "Beta runs: " in shipped.description
    assert shipped.calibrated is not None and shipped.calibrated.max_branches == opts.width
    assert (opts.reports / "found.png").stat().st_size > 0
    saved = json.loads((opts.reports / "found.json").read_text())
    assert set(saved["held_out"]["builtins"]) >= {"sc", "cmc", "probe_exit"}
    assert saved["held_out"]["comparison"]["points_checked"] > 0
    assert saved["data"]["held_out"][0]["name"] == "model-b/bench"


def test_without_stitching_the_best_single_candidate_ships(tmp_path: Path) -> None:
    split = split_environments(two_models(tmp_path / "data"), held_out=["model-b"])
    report = Discovery(split, options(tmp_path, stitch=False)).run()
    assert report["proposer"] in ("tpe", "anchor", "learned")
    assert report["search"]["objective"] is None
    assert report["knots"] == []


def test_the_loop_survives_an_agent_that_writes_junk(tmp_path: Path) -> None:
    split = split_environments(two_models(tmp_path / "data"), held_out=["model-b"])
    opts = options(tmp_path, trials=1)
    junk = AgentProposer(endpoint(reply("```python\nimport os\nclass X: pass\n```")), "junk")
    Discovery(split, opts, junk).run()
    (agent,) = [h for h in history(opts) if h.get("proposer") == "agent"]
    assert agent["status"] == "rejected" and "import of 'os'" in str(agent["reason"])


def test_a_stopped_run_resumes_from_its_history(tmp_path: Path) -> None:
    split = split_environments(two_models(tmp_path / "data"), held_out=["model-b"])
    Discovery(split, options(tmp_path, rounds=1)).run()
    opts = options(tmp_path, rounds=2)
    Discovery(split, opts).run()
    entries = history(opts)
    candidates = [h for h in entries if h["kind"] == "candidate"]
    # Two trials a round (the three anchors first), and the learned rule once, in the first.
    assert [(c["round"], c["proposer"]) for c in candidates] == [
        (0, "anchor"), (0, "anchor"), (0, "learned"), (1, "anchor"), (1, "tpe")]  # fmt: skip
    assert sum(1 for h in entries if h["kind"] == "setup") == 1
    references = [h for h in entries if h["kind"] == "reference"]
    assert sum(1 for h in references if not h.get("final")) == 6  # measured once
    assert sum(1 for h in references if h.get("final")) == 6
    finals = [h["id"] for h in entries if h["kind"] == "final"]
    assert len(finals) == len(set(finals))  # finalists measured once


def test_a_history_measured_by_other_code_is_refused(tmp_path: Path) -> None:
    split = split_environments(two_models(tmp_path / "data"), held_out=["model-b"])
    opts = options(tmp_path)
    Discovery(split, opts).run()
    # As if the built-in esc had scored otherwise when the history was written.
    lines = opts.history_path.read_text().splitlines()
    at = next(i for i, line in enumerate(lines)
              if (h := json.loads(line))["kind"] == "reference" and h["name"] == "esc")  # fmt: skip
    entry = json.loads(lines[at])
    entry["curve"]["points"][0]["accuracy"] += 0.01
    lines[at] = json.dumps(entry)
    opts.history_path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="built-in 'esc' now scores differently"):
        Discovery(split, options(tmp_path, rounds=2)).run()


def test_finalists_and_the_builtins_are_measured_again_on_fresh_orderings(
    tmp_path: Path,
) -> None:
    split = split_environments(two_models(tmp_path / "data"), held_out=["model-b"])
    opts = options(tmp_path, repeats=1, final_repeats=3)
    Discovery(split, opts).run()
    entries = history(opts)
    final = next(h for h in entries if h["kind"] == "final")
    searched = next(h for h in entries if h.get("id") == final["id"] and "params" in h)
    params = cast(dict[str, Any], searched["params"])
    again = measure(families.controller_class("again", params), split.search, REPORT_BETAS,
                    repeats=3, seed=opts.seed + 1, width=opts.width, memo=None)  # fmt: skip
    assert final["curve"] == again.to_json() and final["repeats"] == 3
    sc = next(
        h for h in entries if h["kind"] == "reference" and h.get("final") and h["name"] == "sc"
    )
    sc_again = measure(ControllerRegistry().get("sc"), split.search, REPORT_BETAS,
                       repeats=3, seed=opts.seed + 1, width=opts.width, memo=None)  # fmt: skip
    assert sc["curve"] == sc_again.to_json()
    # The search's own points use other orderings: a lucky draw there is not reused.
    first = measure(families.controller_class("first", params), split.search, REPORT_BETAS,
                    repeats=3, seed=opts.seed, width=opts.width, memo=None)  # fmt: skip
    assert first.to_json() != again.to_json() and searched["curve"] != final["curve"]


@pytest.mark.anyio
async def test_a_recorded_good_proposal_is_shipped_and_hot_loaded(tmp_path: Path) -> None:
    opts = options(tmp_path, trials=0, stitch=False, learned=False)  # the agent's file ships
    opts.out.mkdir(parents=True)
    settings = Settings(
        backend_url="http://fake",
        controllers_dir=opts.out,
        controllers_poll_seconds=0.05,
        trace_dir=None,
        chunk_tokens=8,
        sandboxed_decide_seconds=60,  # a busy machine's slow decide is not the file's fault
    )
    app = create_app(settings, FakeModelServer([Script(2, "4", ["4", "4"])]))
    service: TTSService = app.state.service
    watcher = asyncio.create_task(service.watch_controllers())
    try:
        split = split_environments(two_models(tmp_path / "data"), held_out=["model-b"])
        agent = AgentProposer(endpoint(reply(RECORDED_REPLY)), "recorded")
        report = await asyncio.to_thread(Discovery(split, opts, agent).run)
        assert report["proposer"] == "agent"
        for _ in range(600):  # the watcher gates the new file in a child process, then loads it
            if "found" in service.registry:
                break
            await asyncio.sleep(0.1)
        assert "found" in service.registry, service.registry.errors
    finally:
        watcher.cancel()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as client:
        body = {
            "model": "fake",
            "messages": [{"role": "user", "content": "2+2?"}],
            "tts": {"controller": "found", "beta": 0.5},
        }
        r = await client.post("/v1/chat/completions", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["tts"]["controller"] == "found" and r.json()["tts"]["answer"] == "4"
        (opts.out / "bad.py").write_text("import socket\n")
        r = await client.post("/admin/controllers/reload")
        refused = r.json()["refused"]
        assert "found" in r.json()["controllers"]
        assert any("bad.py" in p and "socket" in why for p, why in refused.items())


def test_a_history_reseeds_a_lost_storage_and_the_search_goes_on(tmp_path: Path) -> None:
    split = split_environments(two_models(tmp_path / "data"), held_out=["model-b"])
    opts = options(tmp_path, rounds=1)
    Discovery(split, opts).run()
    (opts.reports / "found.optuna.db").unlink()  # the storage is lost; the history is not
    Discovery(split, options(tmp_path, rounds=2)).run()
    candidates = [h for h in history(opts) if h["kind"] == "candidate"]
    assert [c["round"] for c in candidates] == [0, 0, 0, 1, 1]
    searched = {json.dumps(c["params"], sort_keys=True) for c in candidates}
    assert len(searched) == 5  # round 1 did not redo what the history holds
