"""Logprobs from the real vLLM backend class: they cover the branch's text, not the
end-of-sequence token vLLM also reports (the text skips special tokens)."""

from __future__ import annotations

import json

import httpx2
import pytest

from tts_proxy.backends.base import Chunk, Sampling
from tts_proxy.backends.vllm import VLLMBackend
from tts_proxy.state import BranchState

pytestmark = pytest.mark.anyio


def backend(text: str, tokens: list[str]) -> VLLMBackend:
    async def handler(request: httpx2.Request) -> httpx2.Response:
        body = {
            "id": "c", "object": "text_completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "text": text, "finish_reason": "stop",
                         "token_ids": list(range(len(tokens))),
                         "logprobs": {"tokens": tokens, "token_logprobs": [-0.1] * len(tokens),
                                      "top_logprobs": [{t: -0.1, "x": -3.0} for t in tokens],
                                      "text_offset": [0] * len(tokens)}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": len(tokens),
                      "total_tokens": 3 + len(tokens)},
        }  # fmt: skip
        return httpx2.Response(200, content=json.dumps(body).encode(),
                               headers={"content-type": "application/json"})  # fmt: skip

    client = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    return VLLMBackend("http://vllm.test", timeout=5, http_client=client)


@pytest.mark.parametrize(
    ("text", "tokens", "kept"),
    [(" 7", [" 7", "<|im_end|>"], [" 7"]),  # ended by EOS: its token is not in the text
     (" 7 and", [" 7", " and"], [" 7", " and"]),  # ended by the cap: every token is text
     ("", ["<|im_end|>"], [])],
)  # fmt: skip
async def test_logprobs_cover_the_text_of_the_branch(
    text: str, tokens: list[str], kept: list[str]
) -> None:
    episode = backend(text, tokens).episode("m", [1, 2, 3], Sampling(logprobs=1))
    (chunk,) = await episode.extend([(BranchState(id=0), 16)])
    assert isinstance(chunk, Chunk)
    assert [t.token for t in chunk.logprobs] == kept
    assert all(len(t.top) == 1 for t in chunk.logprobs)
