"""The discovery loop with the real local vLLM's SmolLM2 as its agent: it writes poor code,
and the loop must record why and carry on."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest

from tests.discovery.conftest import two_models
from tests.discovery.test_loop import options
from tests.e2e.conftest import MODEL
from tts_proxy.discovery.agent import AgentProposer
from tts_proxy.discovery.environments import split_environments
from tts_proxy.discovery.loop import Discovery
from tts_proxy.embedded.server import EmbeddedVLLM

pytestmark = pytest.mark.e2e


def test_the_loop_survives_smollm2_as_the_agent(vllm: EmbeddedVLLM, tmp_path: Path) -> None:
    client = openai.OpenAI(base_url=f"{vllm.url}/v1", api_key="x", max_retries=0, timeout=300)
    # SmolLM2 reads 2,048 tokens: a short prompt, a short file.
    agent = AgentProposer(client, MODEL, max_tokens=500, max_prompt_chars=3000)
    split = split_environments(two_models(tmp_path / "data"), held_out=["model-b"])
    opts = options(tmp_path, name="smol", rounds=2, trials=1, report_repeats=1)
    report = Discovery(split, opts, agent).run()
    entries = [json.loads(line) for line in opts.history_path.read_text().splitlines()]
    proposals = [e for e in entries if e.get("proposer") == "agent"]
    assert len(proposals) == 2
    for p in proposals:
        assert p["status"] in {"ok", "rejected", "failed"}
        assert p["status"] == "ok" or p["reason"]
    assert report["search"]["agent"] == MODEL and report["search"]["agent_proposals"] == 2
    shipped = opts.out / ("smol.py" if report["proposer"] == "agent" else "smol.json")
    assert shipped.exists()  # a document unless the agent's own file won
