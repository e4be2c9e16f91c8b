"""The real vLLM backend class behind a fault-injecting transport: a server that answers 500,
hangs, cuts its JSON short or refuses connections, on every call or on one branch."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import httpx
import httpx2
import pytest

from tts_proxy.api.app import create_app
from tts_proxy.backends.pool import BackendPool
from tts_proxy.backends.vllm import VLLMBackend
from tts_proxy.settings import Settings

pytestmark = pytest.mark.anyio
TTS = {"model": "m", "messages": [{"role": "user", "content": "2+2?"}],
       "tts": {"controller": "sc", "beta": 1.0, "max_branches": 3}}  # fmt: skip
Fault = Callable[[int], str | None]  # completion call number -> fault name, or None


class FaultyVLLM:
    """Enough of vLLM's HTTP API for a search; completion calls fail as ``fault`` says."""

    def __init__(self, fault: Fault) -> None:
        self.fault = fault
        self.completions = 0

    async def __call__(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        if path == "/health":
            return httpx2.Response(200)
        if path == "/v1/models":
            return httpx2.Response(200, json={"data": [{"id": "m", "max_model_len": 4096}]})
        if path == "/tokenize":
            return httpx2.Response(200, json={"tokens": [1, 2, 3]})
        self.completions += 1
        fault = self.fault(self.completions)
        if fault == "refuse":
            raise httpx2.ConnectError("connection refused", request=request)
        if fault == "500":
            return httpx2.Response(500, json={"message": "engine died"})
        if fault == "hang":
            await asyncio.sleep(30)
        stream = json.loads(request.content).get("stream")
        if fault in ("refused", "failed"):  # vLLM refuses the request, or fails serving it
            return self._error(fault, stream)
        if stream:
            return self._stream(fault)
        body = json.dumps({
            "id": "c", "object": "text_completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "text": " The answer is \\\\boxed{4}", "finish_reason": "stop",
                         "token_ids": [5, 6, 7]}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
        })  # fmt: skip
        if fault == "truncated":
            body = body[: len(body) // 2]
        return httpx2.Response(200, content=body.encode(),
                               headers={"content-type": "application/json"})  # fmt: skip

    @staticmethod
    def _error(fault: str, stream: bool) -> httpx2.Response:
        """vLLM's error body; a stream has begun (200) and carries it as an event."""
        code = 400 if fault == "refused" else 500
        error = {"message": "Token id 10**9 is out of vocabulary" if code == 400 else "died",
                 "type": "BadRequestError", "param": None, "code": code}  # fmt: skip
        if not stream:
            return httpx2.Response(code, json={"error": error})
        events = b"data: " + json.dumps({"error": error}).encode() + b"\n\ndata: [DONE]\n\n"
        return httpx2.Response(200, content=events, headers={"content-type": "text/event-stream"})

    @staticmethod
    def _stream(fault: str | None) -> httpx2.Response:
        """The completion as vLLM streams it, a token per event (cut short when truncated)."""
        pieces = [(" The answer is", 5), (" \\boxed", 6), ("{4}", 7)]
        events = b"".join(
            b"data: " + json.dumps({"id": "c", "object": "text_completion", "created": 0,
                                    "model": "m", "choices": [{
                                        "index": 0, "text": text, "token_ids": [token],
                                        "finish_reason": "stop" if token == 7 else None}]},
                                   ).encode() + b"\n\n"
            for text, token in pieces
        ) + b"data: [DONE]\n\n"  # fmt: skip
        if fault == "truncated":
            events = events[: len(events) // 2]
        return httpx2.Response(200, content=events, headers={"content-type": "text/event-stream"})


@pytest.fixture(params=["streamed", "round"])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def client_for(
    fault: Fault, timeout: float = 5.0, engine: str = "streamed"
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx2.MockTransport(FaultyVLLM(fault))
    backend = VLLMBackend("http://vllm.test", timeout=timeout,
                          http_client=httpx2.AsyncClient(transport=transport))  # fmt: skip
    settings = Settings(backend_url="http://vllm.test", trace_dir=None, savings_file=None,
                        chunk_tokens=16, backend_timeout=timeout, engine=engine)  # fmt: skip
    app = create_app(settings, backend)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://proxy") as client:  # fmt: skip
        yield client


@pytest.mark.parametrize(
    ("fault", "status", "error_type"),
    [("500", 502, "backend_error"), ("truncated", 502, "backend_error"),
     ("refuse", 503, "backend_error"), ("hang", 504, "backend_error")],
)  # fmt: skip
async def test_a_backend_that_always_fails_gives_an_openai_error(
    fault: str, status: int, error_type: str, engine: str
) -> None:
    async for client in client_for(lambda n: fault, timeout=0.5, engine=engine):
        r = await client.post("/v1/chat/completions", json=TTS)
        assert r.status_code == status, r.text
        assert r.json()["error"]["type"] == error_type
        assert (await client.get("/healthz")).status_code == 200  # the proxy itself stays up


async def test_a_request_vllm_refuses_is_its_400_whether_it_streams_or_not(engine: str) -> None:
    async for client in client_for(lambda n: "refused", engine=engine):
        r = await client.post("/v1/chat/completions", json=TTS)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["type"] == "invalid_request_error"
        assert "out of vocabulary" in r.json()["error"]["message"]


@pytest.mark.parametrize("fault", ["500", "failed", "truncated", "refuse", "hang"])
async def test_one_failed_branch_leaves_an_answer_from_the_others(fault: str, engine: str) -> None:
    async for client in client_for(lambda n: fault if n == 2 else None, timeout=0.5,
                                   engine=engine):  # fmt: skip
        r = await client.post("/v1/chat/completions", json=TTS)
        assert r.status_code == 200, r.text
        tts = r.json()["tts"]
        assert tts["answer"] == "4" and tts["branches"] == 3 and tts["failed_branches"] == 1


async def test_a_pool_takes_a_dead_server_out_of_rotation_and_back_after_its_cooldown() -> None:
    now = [0.0]
    dead = FaultyVLLM(lambda n: None)
    alive = FaultyVLLM(lambda n: None)

    def server(fake: FaultyVLLM, refuse: list[bool]) -> VLLMBackend:
        async def handler(request: httpx2.Request) -> httpx2.Response:
            if refuse[0]:
                raise httpx2.ConnectError("connection refused", request=request)
            return await fake(request)

        client = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
        return VLLMBackend(f"http://{id(fake)}.test", timeout=1, http_client=client)

    down = [True]
    pool = BackendPool([server(dead, down), server(alive, [False])], cooldown=30,
                       clock=lambda: now[0])  # fmt: skip
    settings = Settings(backend_url="http://a.test", trace_dir=None, savings_file=None,
                        chunk_tokens=16)  # fmt: skip
    app = create_app(settings, pool)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://proxy") as client:  # fmt: skip
        for _ in range(4):
            assert (await client.post("/v1/chat/completions", json=TTS)).status_code == 200
        assert pool.in_rotation() == [1] and dead.completions == 0
        down[0] = False
        now[0] = 31.0  # the cooldown is over: the server is tried again, and answers
        for _ in range(4):
            assert (await client.post("/v1/chat/completions", json=TTS)).status_code == 200
        assert pool.in_rotation() == [0, 1] and dead.completions > 0
