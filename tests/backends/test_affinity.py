"""A branch's every call names it (``x-session-id: <request>-<branch>``) and, over several
servers, a search stays on one: both engines, against the real vLLM backend class over a
recording transport."""

from __future__ import annotations

import json
import random

import httpx2
import pytest

from tts_proxy.backends.base import Sampling
from tts_proxy.backends.pool import BackendPool
from tts_proxy.backends.vllm import AFFINITY_HEADER, VLLMBackend
from tts_proxy.controllers.base import Limits
from tts_proxy.controllers.cmc import ConfidenceMomentum
from tts_proxy.engine import run_search
from tts_proxy.streamed import ENGINES

pytestmark = pytest.mark.anyio
CHUNK = 4


class RecordingVLLM:
    """Completions of 3 chunks (streamed a token per event, or whole); probes read 4."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []  # (affinity key, kind)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/v1/models":
            return httpx2.Response(200, json={"data": [{"id": "m", "max_model_len": 4096}]})
        body = json.loads(request.content)
        probe = body.get("temperature") == 0.0
        kind = "probe" if probe else "stream" if body.get("stream") else "chunk"
        self.calls.append((request.headers[AFFINITY_HEADER], kind))
        if probe:
            choice = {"index": 0, "text": "4}", "finish_reason": "length", "token_ids": [1]}
            return httpx2.Response(200, json=_completion([choice]))
        done = len(body["prompt"]) - 2 + body["max_tokens"] >= 3 * CHUNK
        if not body.get("stream"):
            choice = {"index": 0, "text": " x" if not done else " \\boxed{4}",
                      "finish_reason": "stop" if done else "length",
                      "token_ids": [5] * body["max_tokens"]}  # fmt: skip
            return httpx2.Response(200, json=_completion([choice]))
        left = 3 * CHUNK - (len(body["prompt"]) - 2)
        events = b"".join(
            b"data: " + json.dumps(_completion([{
                "index": 0, "text": " \\boxed{4}" if i == left - 1 else " x", "token_ids": [5],
                "finish_reason": "stop" if i == left - 1 else None}])).encode() + b"\n\n"
            for i in range(left)
        ) + b"data: [DONE]\n\n"  # fmt: skip
        return httpx2.Response(200, content=events, headers={"content-type": "text/event-stream"})


def _completion(choices: list[dict[str, object]]) -> dict[str, object]:
    return {"id": "c", "object": "text_completion", "created": 0, "model": "m",
            "choices": choices}  # fmt: skip


def backend(fake: RecordingVLLM, name: str) -> VLLMBackend:
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(fake))
    return VLLMBackend(f"http://{name}.test", http_client=client)


@pytest.mark.parametrize("engine", list(ENGINES))
async def test_every_call_of_a_branch_carries_its_affinity_key_on_one_server(engine: str) -> None:
    fakes = [RecordingVLLM(), RecordingVLLM()]
    pool = BackendPool([backend(f, f"s{i}") for i, f in enumerate(fakes)])
    await pool.models()
    limits = Limits(max_branches=3, chunk_tokens=CHUNK, max_branch_tokens=3 * CHUNK)
    for search in ("req-a", "req-b"):
        episode = pool.episode("m", [1, 2], Sampling(probe_suffix_ids=(9,)), session=search)
        controller = ConfidenceMomentum(1.0, limits, random.Random(0))
        result = await run_search(controller, episode, limits, engine=ENGINES[engine])
        assert result.answer == "4"
    for fake in fakes:  # each search ran on one server, the two on different ones
        assert len({key.rsplit("-", 1)[0] for key, _ in fake.calls}) == 1
    keys = {key for fake in fakes for key, _ in fake.calls}
    assert keys == {f"req-{s}-{b}" for s in "ab" for b in range(3)}
    kinds = {kind for fake in fakes for _, kind in fake.calls}
    assert kinds == ({"stream", "probe"} if engine == "streamed" else {"chunk", "probe"})
    await pool.close()
