"""What a TTS request asks of its search, read once -- and refused where a search cannot do it.

With a ``tts`` block every OpenAI parameter either works or gets a 400 that names it; none is
dropped silently:

- sampling -- ``temperature``, ``top_p``, ``seed``, ``stop``, ``logit_bias`` and vLLM's
  ``top_k``, ``min_p``, ``repetition_penalty``, ``ignore_eos`` -- goes to every branch;
- ``logprobs`` / ``top_logprobs``: the chosen branch's token log-probabilities;
- ``response_format`` (JSON) and ``tools`` (a tool call) constrain every branch with vLLM's
  structured outputs, and branches vote on the canonical JSON; with ``presence_penalty`` and
  ``frequency_penalty`` (they count a branch's own tokens) they need a controller that runs
  each branch whole in one request (``sc``, ``asc``, ``esc``): a chunked branch restarts the
  grammar and the counts at every chunk;
- ``n`` must be 1 (the search is how many samples are drawn); anything else a search has no
  meaning for (``echo``, ``best_of``, ``suffix``, ``audio``, ...) is refused.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tts_proxy.controllers.base import Controller
from tts_proxy.errors import InvalidRequestError
from tts_proxy.protocol import ChatCompletionRequest, CompletionRequest

DEFAULT_TEMPERATURE = 0.8
# Parameters the proxy reads itself, or that change nothing in a search.
_READ = {"model", "messages", "prompt", "max_tokens", "max_completion_tokens", "temperature",
         "top_p", "n", "seed", "stop", "stream", "stream_options", "tts", "user", "logprobs",
         "top_logprobs", "response_format", "tools", "tool_choice", "parallel_tool_calls",
         "presence_penalty", "frequency_penalty", "logit_bias"}  # fmt: skip
# vLLM's own sampling parameters, the same in every chunk of a branch: passed on as they are.
_VLLM_SAMPLING = ("top_k", "min_p", "repetition_penalty", "ignore_eos")

OutputKind = Literal["text", "json", "tool_call"]


@dataclass(frozen=True, slots=True)
class Output:
    """What each branch writes: text with an answer in it, a JSON document, or a tool call."""

    kind: OutputKind = "text"
    response_format: dict[str, Any] | None = None  # vLLM's structured output, per branch
    tools: tuple[dict[str, Any], ...] = ()  # for the prompt's chat template


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """What the search draws branches with, what they write, and what comes back."""

    temperature: float
    top_p: float | None
    seed: int | None
    stop: list[str] | None
    extra: Mapping[str, Any]  # more per-branch sampling parameters, for vLLM
    output: Output
    logprobs: int | None  # top alternatives per token to return (0: the token's own only)
    warnings: list[str] = field(default_factory=list)


def _refuse(param: str, why: str) -> InvalidRequestError:
    return InvalidRequestError(f"{param} {why}", param=param)


def _given(request: ChatCompletionRequest | CompletionRequest) -> set[str]:
    """The parameters the request sets to something that does anything: clients send their
    defaults (LangChain: ``frequency_penalty: 0``), which are no request at all."""
    return {k for k, v in request.model_dump(exclude_unset=True).items() if _asks(v)}


def _asks(value: object) -> bool:
    """Whether a parameter's value asks for anything (None, 0, false and empty do not)."""
    return value is not None and value is not False and value != 0 and value not in ({}, [])


_SURROGATE = "holds a lone surrogate (an unpaired \\ud800-\\udfff escape): it is not Unicode"


def _unsendable(fields: dict[str, Any]) -> tuple[str, str] | None:
    """The dotted path of a value in ``fields`` that JSON parsers take but no encoder can
    send on to the server, and why; or None. A search re-sends the request's values."""
    stack: list[tuple[str, object]] = list(fields.items())
    while stack:
        path, value = stack.pop()
        if isinstance(value, str) and not _encodes(value):
            return path, _SURROGATE
        if isinstance(value, float) and not math.isfinite(value):
            return path, "must be a finite number"
        if isinstance(value, dict):
            if not all(_encodes(k) for k in value if isinstance(k, str)):
                return path, _SURROGATE
            stack.extend((f"{path}.{k}", v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}.{i}", v) for i, v in enumerate(value))
    return None


def _encodes(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def search_request(
    request: ChatCompletionRequest | CompletionRequest, controller: type[Controller]
) -> SearchRequest:
    """The search ``request`` asks for with ``controller``; ``InvalidRequestError`` naming
    the first parameter it cannot honour."""
    given = _given(request)
    unsendable = _unsendable(request.model_dump(exclude_unset=True))
    if unsendable is not None:
        raise _refuse(*unsendable)
    if request.n not in (None, 1):
        raise _refuse("n", "must be 1 when tts is used (the search decides how many samples)")
    for name in sorted(given - _READ - set(_VLLM_SAMPLING)):
        raise _refuse(name, "is not supported with tts (a search has no use for it)")
    output = _output(request)
    constrained = {"json": ["response_format"], "tool_call": ["tools"]}.get(output.kind, [])
    whole = constrained + [p for p in ("presence_penalty", "frequency_penalty") if p in given]
    if whole and not controller.whole_branches:
        raise _refuse(whole[0], f"needs a controller that runs each branch whole (sc, asc, esc); "
                                f"{controller.name!r} reads branches chunk by chunk")  # fmt: skip
    extras = request.model_extra or {}
    extra: dict[str, Any] = {k: extras[k] for k in _VLLM_SAMPLING if k in given}
    for k in ("presence_penalty", "frequency_penalty", "logit_bias"):
        if k in given:
            extra[k] = getattr(request, k)
    if output.response_format is not None:
        extra["response_format"] = output.response_format
    stop = [request.stop] if isinstance(request.stop, str) else request.stop
    temperature = DEFAULT_TEMPERATURE if request.temperature is None else request.temperature
    return SearchRequest(temperature, request.top_p, request.seed, stop, extra, output,
                         _logprobs(request))  # fmt: skip


def _logprobs(request: ChatCompletionRequest | CompletionRequest) -> int | None:
    top = request.top_logprobs
    if top is not None and not 0 <= top <= 20:
        raise _refuse("top_logprobs", "must be between 0 and 20")
    if isinstance(request, ChatCompletionRequest):
        if not request.logprobs:
            if top:
                raise _refuse("top_logprobs", "needs logprobs: true")
            return None
        return top or 0
    if top is not None:
        raise _refuse("top_logprobs", "is a chat parameter; completions take logprobs: N")
    if request.logprobs is not None and not 0 <= request.logprobs <= 20:
        raise _refuse("logprobs", "must be between 0 and 20")
    return request.logprobs


def _output(request: ChatCompletionRequest | CompletionRequest) -> Output:
    tools = request.tools if isinstance(request, ChatCompletionRequest) else None
    choice = request.tool_choice if isinstance(request, ChatCompletionRequest) else None
    if tools and choice != "none":
        if request.response_format is not None:
            raise _refuse("response_format", "cannot be combined with tools")
        return Output("tool_call", _tool_call_format(tools, choice), tuple(tools))
    fmt = request.response_format
    if fmt is None or fmt.get("type") == "text":
        return Output()
    if fmt.get("type") not in ("json_object", "json_schema"):
        raise _refuse("response_format", "must be text, json_object or json_schema with tts")
    if fmt.get("type") == "json_schema" and not isinstance(
        (fmt.get("json_schema") or {}).get("schema"), dict
    ):
        raise _refuse("response_format", "json_schema needs a schema object")
    return Output("json", fmt)


def _tool_call_format(tools: list[dict[str, Any]], choice: object) -> dict[str, Any]:
    """A JSON schema whose documents are exactly the allowed calls -- {"name", "arguments"} --
    or, when the model may also answer in words ("auto"), {"content": text}."""
    functions = {}
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if (
            tool.get("type") != "function"
            or not isinstance(function, dict)
            or not isinstance(function.get("name"), str)
        ):
            raise _refuse(f"tools.{i}", "must be a function with a name")
        params = function.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(params, dict):
            raise _refuse(f"tools.{i}.function.parameters", "must be a JSON schema object")
        functions[function["name"]] = params
    if isinstance(choice, dict):
        wanted = (choice.get("function") or {}).get("name")
        if wanted not in functions:
            raise _refuse("tool_choice", f"names no tool that was given ({wanted!r})")
        functions = {wanted: functions[wanted]}
    elif choice not in (None, "auto", "required"):
        raise _refuse("tool_choice", "must be none, auto, required or a named function")
    options: list[dict[str, Any]] = [
        {"type": "object", "properties": {"name": {"const": name}, "arguments": params},
         "required": ["name", "arguments"], "additionalProperties": False}
        for name, params in functions.items()
    ]  # fmt: skip
    if choice in (None, "auto"):
        options.append({"type": "object", "properties": {"content": {"type": "string"}},
                        "required": ["content"], "additionalProperties": False})  # fmt: skip
    schema = {"anyOf": options}
    json.dumps(schema)  # a tool's schema must be JSON itself
    return {"type": "json_schema", "json_schema": {"name": "tool_call", "schema": schema}}
