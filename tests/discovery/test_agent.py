"""The agent proposer against endpoints that fail, say nothing, or write prose; the prompt."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx2 as httpx  # the openai SDK is built on httpx2
import openai
import pytest

from tts_proxy.discovery.agent import AgentContext, AgentError, AgentProposer, extract_source
from tts_proxy.discovery.curves import Curve, Point

Handler = Callable[[httpx.Request], httpx.Response]


def endpoint(handler: Handler) -> openai.OpenAI:
    """An OpenAI client whose transport is ``handler`` (a swapped transport, not a patch)."""
    return openai.OpenAI(
        base_url="http://agent.test/v1",
        api_key="x",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )


def reply(content: str | None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": "m",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": content},
                    }
                ],
            },
        )

    return handler


CONTEXT = AgentContext(best=[], references={"sc": Curve((Point(0.0, 0.5, 100.0),))})


@pytest.mark.parametrize(
    ("handler", "why"),
    [
        (lambda r: httpx.Response(500, json={"error": {"message": "down"}}), "endpoint failed"),
        (lambda r: httpx.Response(200, content=b"{not json"), "malformed reply"),
        (lambda r: httpx.Response(200, json={"choices": []}), "malformed reply"),
        (reply(None), "replied with nothing"),
        (reply("   "), "replied with nothing"),
        (reply("I would stop early when confident."), "no class definition"),
    ],
)
def test_a_useless_endpoint_is_an_agent_error(handler: Handler, why: str) -> None:
    with pytest.raises(AgentError, match=why):
        AgentProposer(endpoint(handler), "m").propose(CONTEXT)


def test_the_file_is_the_last_code_block() -> None:
    text = "Here:\n```python\nclass A: pass\n```\nBetter:\n```python\nclass B: pass\n```\n"
    assert extract_source(text) == "class B: pass\n"


def test_the_prompt_carries_the_interface_references_and_rejections() -> None:
    seen: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return reply("```python\nclass C: pass\n```")(request)

    context = AgentContext(
        best=[],
        references=CONTEXT.references,
        rejections=["3: import of 'os' is not allowed"],
        name="new_one",
    )
    AgentProposer(endpoint(handler), "m").propose(context)
    prompt = str(seen[0]["messages"][1]["content"])  # type: ignore[index]
    assert "class MyController(Controller)" in prompt
    assert "sc: beta 0: 50.0% at 0.1k tokens" in prompt
    assert "import of 'os' is not allowed" in prompt and '"new_one"' in prompt
