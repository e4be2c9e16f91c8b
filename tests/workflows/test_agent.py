"""The agent plan search over an OpenAI-compatible endpoint (a scripted one here; the real
vLLM in tests/e2e/test_plan_agent.py): what it is shown, what it keeps of the replies."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import httpx2
import openai

from tests.workflows.grids import small_grid
from tts_proxy.workflows.agent import AgentSearch, parse_plans, prompt, schema
from tts_proxy.workflows.environment import Table
from tts_proxy.workflows.grids import budget_at
from tts_proxy.workflows.search import Oracle, run_search


def endpoint(reply: Callable[[dict[str, Any]], httpx2.Response]) -> openai.OpenAI:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return reply(json.loads(request.content))

    client = httpx2.Client(transport=httpx2.MockTransport(handler))
    return openai.OpenAI(base_url="http://agent.test/v1", api_key="x", http_client=client,
                         max_retries=0)  # fmt: skip


def completion(content: str) -> httpx2.Response:
    return httpx2.Response(200, json={
        "id": "c", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
    })  # fmt: skip


def oracle() -> Oracle:
    env = small_grid(0)
    return Oracle(Table(env), budget_at(env, 0.5))


def test_the_agent_is_shown_the_options_budget_regularities_and_archive() -> None:
    seen: list[dict[str, Any]] = []
    good = {"plans": [{"plan": {"model": "large-8b", "samples": 2},
                       "act": {"model": "small-1b", "samples": 8}}]}  # fmt: skip

    def reply(body: dict[str, Any]) -> httpx2.Response:
        seen.append(body)
        return completion(json.dumps(good))

    o = oracle()
    search = AgentSearch(endpoint(reply), "m", iterations=2, candidates=3)
    run_search(search, o, random.Random(0))
    text = seen[0]["messages"][1]["content"]
    assert "Budget: at most" in text and "saturate" in text and "large-8b" in text
    assert "Plans tried so far" in text and "score" in text
    assert seen[0]["response_format"]["json_schema"]["schema"] == schema(o)
    assert any(str(t.plan[0]) == "large-8b x2" for t in o.archive)
    assert search.notes == ["round 1: nothing new proposed"]  # the same plan again


def test_replies_outside_the_options_are_dropped() -> None:
    o = oracle()
    mixed = {"plans": [{"plan": {"model": "huge", "samples": 2}, "act": {"model": "small-1b",
                        "samples": 1}}, {"plan": {"model": "small-1b", "samples": 3}},
                       "nonsense", {"plan": {"model": "small-1b", "samples": 1},
                        "act": {"model": "small-1b", "samples": 4}}]}  # fmt: skip
    (only,) = parse_plans(json.dumps(mixed), o)
    assert [str(c) for c in only] == ["small-1b x1", "small-1b x4"]
    assert parse_plans("not json", o) == [] and parse_plans("[]", o) == []


def test_a_failing_endpoint_ends_only_its_round() -> None:
    o = oracle()
    search = AgentSearch(endpoint(lambda body: httpx2.Response(500, json={})), "m", iterations=2)
    run_search(search, o, random.Random(0))
    assert len(search.notes) == 2 and "endpoint failed" in search.notes[0]
    assert o.best() is not None  # the insight-guided start still stands
    assert "act" in prompt(o, 5, 3)
