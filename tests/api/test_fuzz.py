"""Schemathesis fuzzes the request schemas (taken from the pydantic protocol models) against
the app over a fake backend: whatever it sends, the answer is never a 5xx, and every error
is an OpenAI error body."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from pydantic import BaseModel

from tests.fakes import FakeModelServer, Script
from tts_proxy.api.app import create_app
from tts_proxy.protocol import ChatCompletionRequest, CompletionRequest, FeedbackRequest
from tts_proxy.settings import Settings


def openapi() -> dict[str, Any]:
    components: dict[str, Any] = {}

    def body(model: type[BaseModel]) -> dict[str, Any]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
        ref = {"$ref": f"#/components/schemas/{model.__name__}"}
        return {"required": True, "content": {"application/json": {"schema": ref}}}

    def post(model: type[BaseModel]) -> dict[str, Any]:
        return {"post": {"requestBody": body(model), "responses": {"200": {"description": "ok"}}}}

    paths = {
        "/v1/chat/completions": post(ChatCompletionRequest),
        "/v1/completions": post(CompletionRequest),
        "/v1/tts/feedback": post(FeedbackRequest),
        "/v1/models": {"get": {"responses": {"200": {"description": "ok"}}}},
    }
    return {"openapi": "3.1.0", "info": {"title": "tts-proxy", "version": "1"},
            "paths": paths, "components": {"schemas": components}}  # fmt: skip


APP = create_app(
    Settings(backend_url="http://fake", trace_dir=None, savings_file=None, chunk_tokens=8),
    FakeModelServer([Script(2, "4", ["4", "4"])]),
)
schema = schemathesis.openapi.from_dict(openapi())
schema.app = APP
# Valid bodies and bodies that break the schema on purpose (wrong types, missing fields).
schema.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
)


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case: schemathesis.Case[Any]) -> None:
    response = case.call()
    assert response.status_code < 500, (case.body, response.text[:500])
    if response.status_code >= 400:
        assert set(response.json()) == {"error"}, response.text[:500]
