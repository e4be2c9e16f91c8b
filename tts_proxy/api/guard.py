"""Access and size: API keys (``Authorization: Bearer``) and the request body limit.

A pure ASGI middleware, so a refused request costs no parsing: keys are checked before the
body is read (each against every known key with ``hmac.compare_digest``, so the time taken
does not tell how much of a key was right), and a body is counted as it arrives and cut off
at the limit. Refusals are OpenAI error bodies (401 ``invalid_api_key``, 413).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tts_proxy.api.errors import error_response
from tts_proxy.errors import AuthenticationError, RequestTooLargeError, TTSProxyError

OPEN_PATHS = ("/healthz",)


def key_matches(presented: bytes, keys: Sequence[bytes]) -> bool:
    """Whether ``presented`` is one of ``keys``, comparing against all of them every time."""
    found = False
    for key in keys:
        found |= hmac.compare_digest(presented, key)
    return found


class Guard:
    """The middleware: key check, then the body limit, then the app."""

    def __init__(
        self, app: ASGIApp, *, keys: Sequence[bytes], max_body_bytes: int, metrics_open: bool
    ) -> None:
        self.app = app
        self.keys = list(keys)
        self.max_body_bytes = max_body_bytes
        self.open_paths = OPEN_PATHS + (("/metrics",) if metrics_open else ())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if self.keys and scope["path"] not in self.open_paths:
            auth = headers.get(b"authorization", b"")
            scheme, _, token = auth.partition(b" ")
            if scheme.lower() != b"bearer" or not key_matches(token.strip(), self.keys):
                err = AuthenticationError(
                    "a valid API key is required: send `Authorization: Bearer <key>`",
                    code="invalid_api_key",
                )
                await error_response(err)(scope, receive, send)
                return
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await error_response(self._too_large())(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _too_large(self) -> TTSProxyError:
        return RequestTooLargeError(
            f"the request body is over the server's limit of {self.max_body_bytes} bytes",
            code="request_too_large",
        )

    def _counting(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise self._too_large()
            return message

        return counted
