"""OpenAI error bodies, and the exception handlers that make every failure one of them."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from tts_proxy.admission import RETRY_AFTER_SECONDS
from tts_proxy.api.responses import ModelTextJSONResponse
from tts_proxy.errors import InvalidRequestError, OverloadedError, TTSProxyError
from tts_proxy.protocol import ErrorBody, ErrorResponse

log = logging.getLogger(__name__)


def error_body(exc: TTSProxyError) -> dict[str, Any]:
    body = ErrorBody(message=exc.message, type=exc.error_type, param=exc.param, code=exc.code)
    return ErrorResponse(error=body).model_dump()


def error_response(
    exc: TTSProxyError, headers: dict[str, str] | None = None
) -> ModelTextJSONResponse:
    return ModelTextJSONResponse(error_body(exc), status_code=exc.status_code, headers=headers)


def invalid_request(exc: ValidationError | RequestValidationError) -> InvalidRequestError:
    """The first validation problem, named by its field path (``tts.beta``, ``messages``)."""
    first = exc.errors()[0]
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(loc) or None
    msg = first.get("msg", "invalid value")
    return InvalidRequestError(f"{param}: {msg}" if param else msg, param=param)


def install(app: FastAPI) -> None:
    @app.exception_handler(TTSProxyError)
    async def _proxy_error(request: Request, exc: TTSProxyError) -> ModelTextJSONResponse:
        if isinstance(exc, OverloadedError):
            return error_response(exc, {"Retry-After": str(RETRY_AFTER_SECONDS)})
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> ModelTextJSONResponse:
        return error_response(invalid_request(exc))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> ModelTextJSONResponse:
        err = TTSProxyError(str(exc.detail))
        err.status_code = exc.status_code
        err.error_type = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return error_response(err)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> ModelTextJSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return error_response(TTSProxyError("internal error in the proxy; see its log"))
