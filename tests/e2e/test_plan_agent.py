"""The agent plan search with the real local vLLM's SmolLM2 as its agent: a weak model, kept
to the options by structured outputs; whatever it proposes is measured like any plan."""

from __future__ import annotations

import random

import openai
import pytest

from tests.e2e.conftest import MODEL
from tests.workflows.grids import small_grid
from tts_proxy.embedded.server import EmbeddedVLLM
from tts_proxy.workflows.agent import AgentSearch
from tts_proxy.workflows.environment import Table
from tts_proxy.workflows.grids import budget_at
from tts_proxy.workflows.search import InsightWalk, Oracle, run_search

pytestmark = pytest.mark.e2e


def test_smollm2_proposes_plans_within_the_options(vllm: EmbeddedVLLM) -> None:
    env = small_grid(4)
    table = Table(env)
    oracle = Oracle(table, budget_at(env, 0.5))
    client = openai.OpenAI(base_url=f"{vllm.url}/v1", api_key="x", max_retries=0, timeout=300)
    search = AgentSearch(client, MODEL, iterations=2, candidates=3, max_tokens=300)
    start = Oracle(table, oracle.budget)
    InsightWalk(start, random.Random(0)).prefer_models()  # the agent's insight-guided start
    best = run_search(search, oracle, random.Random(0))
    assert best is not None
    failed = [n for n in search.notes if "endpoint failed" in n]
    assert len(failed) < search.iterations  # the endpoint answered at least once
    new = len(oracle.archive) - len(start.archive)  # plans it proposed that were measured
    assert new > 0 or any("nothing new" in n for n in search.notes)
