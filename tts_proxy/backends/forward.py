"""Passthrough: a request's bytes to vLLM and vLLM's bytes back, nothing parsed either way.

aiohttp (its C HTTP parser) rather than the SDK's client: this path is every plain request's,
and the proxy's whole cost on it is what its HTTP client costs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp

from tts_proxy.errors import BackendTimeoutError, BackendUnavailableError

JSON = "application/json"


class ForwardedResponse:
    """vLLM's answer: its status, content type and bytes (streamed, or read whole)."""

    def __init__(self, response: aiohttp.ClientResponse, content: bytes | None = None) -> None:
        self._response = response
        self._content = content
        self.status_code = response.status
        self.media_type = response.headers.get("content-type", JSON)

    async def body(self) -> AsyncIterator[bytes]:
        if self._content is not None:
            yield self._content
            return
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        finally:
            self._response.release()


class Forwarder:
    """Posts bodies to one server; its connections are kept alive and reused."""

    def __init__(self, root: str, authorization: str, timeout: float) -> None:
        self.root = root
        self.timeout = timeout
        self._headers = {"content-type": JSON, "authorization": authorization}
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:  # made in the running loop, as aiohttp wants
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(connect=self.timeout, sock_read=self.timeout),
                connector=aiohttp.TCPConnector(limit=0),
                auto_decompress=False,
            )
        return self._session

    async def post(self, path: str, body: bytes) -> ForwardedResponse:
        """POST ``body`` to ``<root>/v1<path>``; an error status comes back read whole."""
        url = f"{self.root}/v1{path}"
        try:
            response = await self._client().post(url, data=body, headers=self._headers)
            if response.status >= 400:
                return ForwardedResponse(response, await response.read())
        except TimeoutError as exc:
            raise BackendTimeoutError(f"the model server took over {self.timeout:g} s") from exc
        except aiohttp.ClientError as exc:
            raise BackendUnavailableError(f"the model server is unreachable: {exc}") from exc
        return ForwardedResponse(response)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
