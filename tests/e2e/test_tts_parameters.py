"""OpenAI parameters in a search, against the real vLLM: JSON output and tool calls through
vLLM's structured outputs (branches vote on the canonical JSON), and the chosen branch's
logprobs; the official openai SDK reads all of them as it reads vLLM's own answers."""

from __future__ import annotations

import json

import openai
import pytest
from openai.types.chat import (
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionMessageParam,
)

from tests.e2e.conftest import MODEL

pytestmark = pytest.mark.e2e
ASK: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "What is 3 + 4? Reply as JSON with the key answer."}
]
SC = {"tts": {"controller": "sc", "beta": 0.5, "max_branches": 3}}
ADD: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {"name": "add", "description": "Add two integers", "parameters": {
        "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"]}},
}  # fmt: skip


def test_json_output_votes_on_the_document(client: openai.OpenAI) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}},
              "required": ["answer"], "additionalProperties": False}  # fmt: skip
    r = client.chat.completions.create(
        model=MODEL, messages=ASK, max_tokens=40, extra_body=SC,
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
    )  # fmt: skip
    value = json.loads(r.choices[0].message.content or "")
    assert isinstance(value["answer"], int)
    tts = (r.model_extra or {})["tts"]
    assert tts["branches"] == 2 and json.loads(tts["answer"]) == value  # the voted document


def test_a_tool_call_comes_back_as_a_tool_call(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(
        model=MODEL, max_tokens=60, extra_body=SC, tools=[ADD], tool_choice="required",
        messages=[{"role": "user", "content": "Add 3 and 4 with the add tool."}],
    )  # fmt: skip
    (call,) = r.choices[0].message.tool_calls or []
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    assert r.choices[0].finish_reason == "tool_calls" and call.function.name == "add"
    arguments = json.loads(call.function.arguments)
    assert set(arguments) == {"a", "b"} and all(isinstance(v, int) for v in arguments.values())


def test_logprobs_of_the_chosen_branch(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(
        model=MODEL, messages=ASK, max_tokens=24, logprobs=True, top_logprobs=2,
        extra_body={"tts": {"controller": "sc", "beta": 0.0}},
    )  # fmt: skip
    content = r.choices[0].logprobs.content if r.choices[0].logprobs else None
    assert content and "".join(t.token for t in content) == r.choices[0].message.content
    assert all(t.logprob <= 0 and len(t.top_logprobs) <= 2 for t in content)


@pytest.mark.parametrize("stream", [False, True])
def test_an_unhonoured_parameter_is_a_400_the_sdk_raises(
    client: openai.OpenAI, stream: bool
) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model=MODEL, messages=ASK, max_tokens=8, response_format={"type": "json_object"},
            extra_body={"tts": {"controller": "probe_exit"}}, stream=stream,
        )  # fmt: skip
    assert "response_format" in str(info.value)


def test_what_vllm_refuses_mid_stream_is_its_400_not_a_broken_branch(
    client: openai.OpenAI,
) -> None:
    # The streamed engine's branches are streams: vLLM sends these refusals as error events.
    with pytest.raises(openai.BadRequestError) as info:
        client.completions.create(model=MODEL, prompt=[10**9], max_tokens=8,
                                  extra_body={"tts": {"beta": 0}})  # fmt: skip
    assert "out of vocabulary" in str(info.value)
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model=MODEL, messages=ASK, max_tokens=8, extra_body={"tts": {"controller": "sc"}},
            response_format={"type": "json_schema",
                             "json_schema": {"name": "x", "schema": {"type": "nonsense"}}},
        )  # fmt: skip
    assert "nonsense" in str(info.value)
