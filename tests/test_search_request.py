"""The search a TTS request asks for: every OpenAI parameter works or is refused by name."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tts_proxy.controllers.probe_exit import ProbeExit
from tts_proxy.controllers.sc import SelfConsistency
from tts_proxy.errors import InvalidRequestError
from tts_proxy.protocol import ChatCompletionRequest, CompletionRequest
from tts_proxy.search_request import search_request

HELLO = [{"role": "user", "content": "hi"}]
ADD = {"type": "function", "function": {"name": "add", "parameters": {
    "type": "object", "properties": {"a": {"type": "integer"}}}}}  # fmt: skip


def chat(**fields: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": "m", "messages": HELLO} | fields)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"n": 2}, "n"),
        ({"echo": True}, "echo"),
        ({"audio": {"voice": "x"}}, "audio"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"top_logprobs": 3}, "top_logprobs"),  # without logprobs: true
        ({"logprobs": True, "top_logprobs": 50}, "top_logprobs"),
        ({"response_format": {"type": "xml"}}, "response_format"),
        ({"response_format": {"type": "json_schema", "json_schema": {}}}, "response_format"),
        (
            {"tools": [ADD], "tool_choice": {"type": "function", "function": {"name": "sub"}}},
            "tool_choice",
        ),
        ({"tools": [{"type": "function", "function": {}}]}, "tools.0"),
    ],
)
def test_what_a_search_cannot_honour_is_refused_by_name(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        search_request(chat(**fields), SelfConsistency)
    assert info.value.param == param and param in info.value.message


@pytest.mark.parametrize(
    "fields",
    [
        {"response_format": {"type": "json_object"}},
        {"tools": [ADD]},
        {"presence_penalty": 0.5},
        {"frequency_penalty": 0.5},
    ],
)
def test_branch_wide_constraints_need_a_controller_that_runs_whole_branches(
    fields: dict[str, Any],
) -> None:
    with pytest.raises(InvalidRequestError) as info:
        search_request(chat(**fields), ProbeExit)
    assert "whole" in info.value.message and info.value.param == next(iter(fields))
    search_request(chat(**fields), SelfConsistency)  # sc runs each branch in one request


def test_sampling_parameters_reach_every_branch() -> None:
    spec = search_request(
        chat(temperature=0.3, top_p=0.9, seed=5, stop="##", logit_bias={"42": -5}, top_k=20,
             min_p=0.1, repetition_penalty=1.1, ignore_eos=True, user="u1"),
        ProbeExit,
    )  # fmt: skip
    assert (spec.temperature, spec.top_p, spec.seed, spec.stop) == (0.3, 0.9, 5, ["##"])
    assert spec.extra == {"logit_bias": {"42": -5}, "top_k": 20, "min_p": 0.1,
                          "repetition_penalty": 1.1, "ignore_eos": True}  # fmt: skip


def test_json_output_constrains_every_branch() -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}}
    spec = search_request(chat(response_format=fmt), SelfConsistency)
    assert spec.output.kind == "json" and spec.extra["response_format"] == fmt


def test_tools_become_a_schema_of_the_allowed_calls() -> None:
    spec = search_request(chat(tools=[ADD], tool_choice="required"), SelfConsistency)
    assert spec.output.kind == "tool_call" and spec.output.tools == (ADD,)
    (option,) = spec.extra["response_format"]["json_schema"]["schema"]["anyOf"]
    assert option["properties"]["name"] == {"const": "add"}
    auto = search_request(chat(tools=[ADD]), SelfConsistency)
    assert len(auto.extra["response_format"]["json_schema"]["schema"]["anyOf"]) == 2  # + words
    none = search_request(chat(tools=[ADD], tool_choice="none"), ProbeExit)
    assert none.output.kind == "text"


def test_logprobs_are_asked_for_in_either_api() -> None:
    assert search_request(chat(logprobs=True, top_logprobs=3), ProbeExit).logprobs == 3
    assert search_request(chat(logprobs=True), ProbeExit).logprobs == 0
    assert search_request(chat(), ProbeExit).logprobs is None
    completion = CompletionRequest.model_validate({"model": "m", "prompt": "x", "logprobs": 2})
    assert search_request(completion, ProbeExit).logprobs == 2


def test_the_defaults_clients_send_ask_for_nothing() -> None:
    # LangChain's completions client sends these with every request.
    spec = search_request(
        chat(frequency_penalty=0, presence_penalty=0.0, logit_bias={}, n=1, logprobs=False),
        ProbeExit,
    )
    assert spec.extra == {} and spec.logprobs is None


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"messages": [{"role": "user", "content": "x\ud800"}]}, "messages.0.content"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": "\udfff"}]}]},
         "messages.0.content.0.text"),
        ({"stop": ["ok", "\udc00"]}, "stop.1"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {
            "type": "object", "properties": {"\ud801": {}}}}}]},
         "tools.0.function.parameters.properties"),
        ({"top_k": 5, "user": "\ud83d"}, "user"),
    ],
)  # fmt: skip
def test_text_that_is_not_unicode_is_refused_by_name(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        search_request(chat(**fields), SelfConsistency)
    assert info.value.param == param and "surrogate" in info.value.message


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"temperature": math.inf}, "temperature"),
        ({"presence_penalty": math.nan}, "presence_penalty"),
        ({"top_k": math.nan}, "top_k"),
        ({"logit_bias": {"5": -math.inf}}, "logit_bias.5"),
    ],
)
def test_numbers_json_cannot_carry_are_refused_by_name(fields: dict[str, Any], param: str) -> None:
    # json.loads reads NaN, Infinity and 1e400; the SDK refuses to write them on.
    with pytest.raises(InvalidRequestError) as info:
        search_request(chat(**fields), SelfConsistency)
    assert info.value.param == param and "finite" in info.value.message


def test_paired_surrogates_and_any_unicode_are_text() -> None:
    # json.loads turns "\ud83d\ude00" (how ASCII-only encoders write an emoji) into one char.
    spec = search_request(chat(messages=[{"role": "user", "content": "\U0001f600 é ∑ 中"}],
                               stop=["\u2028"]), SelfConsistency)  # fmt: skip
    assert spec.stop == ["\u2028"]
