"""Routes: parse the request, hand it to the service or the backend, render the answer."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ValidationError

from tts_proxy.api.errors import invalid_request
from tts_proxy.api.headers import read_headers
from tts_proxy.api.render import chat_response, completion_response, stream_events
from tts_proxy.api.responses import ModelTextJSONResponse
from tts_proxy.api.sse import stream_when_done
from tts_proxy.backends.base import Passthrough
from tts_proxy.errors import InvalidRequestError, NotFoundError
from tts_proxy.protocol import ChatCompletionRequest, CompletionRequest, FeedbackRequest
from tts_proxy.service import Forwarded, TTSService

router = APIRouter()
admin_router = APIRouter()  # on the main port, or alone on TTS_ADMIN_PORT
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
DISCONNECT_POLL_SECONDS = 0.2
REQUEST_ID_HEADER = "x-tts-request-id"
# Bodies nested deeper are refused before anything else walks them: Python's JSON parser,
# pydantic and the encoders recurse, and a search re-encodes its body for every branch.
# Requests nest a few levels; a tool's JSON schema a few dozen at most.
MAX_JSON_DEPTH = 100


def _service(request: Request) -> TTSService:
    service: TTSService = request.app.state.service
    return service


def _json_object(raw: bytes) -> dict[str, Any]:
    too_deep = f"the request body nests JSON deeper than {MAX_JSON_DEPTH} levels"
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(f"the request body is not valid JSON: {exc}") from exc
    except RecursionError as exc:  # Python's parser recurses: far deeper than the limit
        raise InvalidRequestError(too_deep) from exc
    if not isinstance(data, dict):
        raise InvalidRequestError("the request body must be a JSON object")
    if _nests_deeper(data, MAX_JSON_DEPTH):
        raise InvalidRequestError(too_deep)
    return data


def _nests_deeper(value: dict[str, Any] | list[Any], limit: int) -> bool:
    """Whether ``value`` holds lists or objects more than ``limit`` levels deep (walked
    without recursion, so any depth the parser took is safe to ask about)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


async def _read_json(request: Request) -> dict[str, Any]:
    return _json_object(await request.body())


def _parse(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_request(exc) from exc


async def _relay(upstream: Passthrough, stream: bool) -> Response:
    if stream and upstream.status_code < 400:
        return StreamingResponse(
            upstream.body(), status_code=upstream.status_code, media_type=upstream.media_type
        )
    # An error is relayed as the backend wrote it, as an ordinary response even when a
    # stream was asked for: nothing was streamed yet, and clients read it as an API error.
    content = b"".join([part async for part in upstream.body()])
    return Response(content, status_code=upstream.status_code, media_type=upstream.media_type)


async def _unless_disconnected(request: Request, work: Awaitable[T]) -> T | None:
    """Run ``work`` until done, or cancel it (and every backend call under it) as soon as
    the client disconnects; the stream path does the same in ``stream_when_done``."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=DISCONNECT_POLL_SECONDS)
            if done:
                return task.result()
            if await request.is_disconnected():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                return None
    finally:
        if not task.done():
            task.cancel()


async def _handle(
    request: Request, kind: type[ChatCompletionRequest] | type[CompletionRequest]
) -> Response:
    service = _service(request)
    raw = await request.body()
    parsed = _parse(kind, _json_object(raw))
    chat = kind is ChatCompletionRequest
    path = "/chat/completions" if chat else "/completions"
    reply = await service.complete(parsed, read_headers(request.headers), raw, path)
    if isinstance(reply, Forwarded):
        return await _relay(reply.response, bool(parsed.stream))
    reply_headers = {REQUEST_ID_HEADER: reply.request_id}
    work, model = reply.work, reply.model
    if parsed.stream:
        include_usage = bool(parsed.stream_options and parsed.stream_options.include_usage)
        render = stream_events(model, include_usage, chat)
        return StreamingResponse(
            stream_when_done(work, render, service.settings.keepalive_seconds),
            media_type="text/event-stream",
            headers=reply_headers,
        )
    outcome = await _unless_disconnected(request, work)
    if outcome is None:  # the client left: its search was cancelled, nobody reads an answer
        return Response(status_code=499)
    response: BaseModel = (chat_response if chat else completion_response)(model, outcome)
    return ModelTextJSONResponse(
        response.model_dump(exclude_none=False), headers=reply_headers | outcome.headers()
    )


@router.post("/v1/chat/completions")
async def chat_completions(request: Request) -> Response:
    return await _handle(request, ChatCompletionRequest)


@router.post("/v1/completions")
async def completions(request: Request) -> Response:
    return await _handle(request, CompletionRequest)


@router.get("/v1/models")
async def models(request: Request) -> dict[str, Any]:
    service = _service(request)
    upstream = await service.backend.models()
    aliases = [
        m | {"id": f"{name}/{m['id']}", "root": m["id"], "owned_by": "tts-proxy"}
        for name in service.registry.names()
        for m in upstream
    ]
    return {"object": "list", "data": upstream + aliases}


@router.get("/healthz")
async def healthz(request: Request) -> ModelTextJSONResponse:
    healthy = await _service(request).backend.health()
    return ModelTextJSONResponse(
        {"status": "ok" if healthy else "degraded", "backend": "ok" if healthy else "unavailable"},
        status_code=200 if healthy else 503,
    )


@admin_router.get("/metrics")
async def metrics(request: Request) -> Response:
    return Response(_service(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)


@admin_router.post("/admin/controllers/reload")
async def reload_controllers(request: Request) -> dict[str, Any]:
    """Load new or changed files from the controllers directory now (each passes the gate)."""
    return await _service(request).reload_controllers()


@admin_router.get("/admin/plans")
async def plans(request: Request) -> dict[str, Any]:
    """The active workflow plans, and every plan file's verdict."""
    return _service(request).plans.listing()


@admin_router.post("/admin/plans/reload")
async def reload_plans(request: Request) -> dict[str, Any]:
    """Read the plans directory again now."""
    return await _service(request).plans.reload()


@router.post("/v1/tts/feedback")
async def feedback(request: Request) -> dict[str, Any]:
    """Attach a label (the true answer, or a score) to a logged TTS request, or to every
    logged stage of a workflow run (``run_id``)."""
    service = _service(request)
    label = _parse(FeedbackRequest, await _read_json(request))
    if label.answer is None and label.score is None:
        raise InvalidRequestError("give an answer or a score", param="answer")
    if (label.request_id is None) == (label.run_id is None):
        raise InvalidRequestError("give a request_id or a run_id (one of them)",
                                  param="request_id")  # fmt: skip
    param = "request_id" if label.request_id is not None else "run_id"
    if service.traces is None or service.labels is None:
        raise NotFoundError("trace logging is off on this server", param=param)
    if label.request_id is not None:
        if label.request_id not in service.traces.known_ids:
            raise NotFoundError(f"no logged request {label.request_id!r}", param=param)
        ids = [label.request_id]
    else:
        ids = sorted(service.traces.runs.get(str(label.run_id), ()))
        if not ids:
            raise NotFoundError(f"no logged request of run {label.run_id!r}", param=param)
    labels = service.labels

    def write() -> None:
        for request_id in ids:
            labels.add(request_id, answer=label.answer, score=label.score)

    await asyncio.to_thread(write)
    reply: dict[str, Any] = {"status": "recorded", "labelled": ids}
    return reply | ({"request_id": ids[0]} if label.request_id is not None
                    else {"run_id": label.run_id})  # fmt: skip
