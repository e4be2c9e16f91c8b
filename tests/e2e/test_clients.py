"""The clients people use on top of the openai SDK, against the proxy over the real vLLM:
LangChain's ChatOpenAI and LiteLLM -- plain, a search through ``extra_body``, and streaming."""

from __future__ import annotations

import os

import pytest

from tests.e2e.conftest import MODEL, ProxyServer

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no fetch from the internet

pytestmark = pytest.mark.e2e
QUESTION = "What is 3 + 4? Put the final answer in \\boxed{}."
TTS = {"tts": {"controller": "sc", "beta": 0.5, "max_branches": 3}}


def test_langchain_chat_openai(proxy: ProxyServer) -> None:
    from langchain_openai import ChatOpenAI

    plain = ChatOpenAI(base_url=f"{proxy.url}/v1", api_key="x", model=MODEL, max_tokens=24,
                       max_retries=0)  # fmt: skip
    assert plain.invoke(QUESTION).content
    searched = ChatOpenAI(base_url=f"{proxy.url}/v1", api_key="x", model=MODEL, max_tokens=24,
                          extra_body=TTS, include_response_headers=True, max_retries=0)  # fmt: skip
    reply = searched.invoke(QUESTION)
    headers = reply.response_metadata["headers"]
    assert headers["x-tts-controller"] == "sc" and int(headers["x-tts-tokens"]) > 0
    assert "x-tts-tokens-saved" in headers  # the saving, visible without the body's extra field
    streamed = "".join(str(chunk.content) for chunk in searched.stream(QUESTION))
    assert streamed


def test_litellm(proxy: ProxyServer) -> None:
    import litellm

    kwargs = {"model": f"openai/{MODEL}", "api_base": f"{proxy.url}/v1", "api_key": "x",
              "messages": [{"role": "user", "content": QUESTION}], "max_tokens": 24}  # fmt: skip
    assert litellm.completion(**kwargs).choices[0].message.content
    searched = litellm.completion(**kwargs, extra_body=TTS)
    assert searched.choices[0].message.content
    stream = litellm.completion(**kwargs, extra_body=TTS, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
