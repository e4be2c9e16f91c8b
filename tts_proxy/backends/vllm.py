"""A live vLLM server, spoken to through the official ``openai`` SDK.

Searches run over token ids: the prompt is rendered once with ``/tokenize``. The streamed
engine opens one streaming completion per branch (``open``, with ``return_token_ids``) and
keeps the ids of every chunk it reports (``keep``), so a paused branch resumes from them; the
round engine asks a completion of ``prompt_ids + branch_ids`` per chunk (vLLM's prefix cache
makes the re-sent prefix nearly free). A probe appends the probe suffix to the branch's kept
ids and decodes a few greedy tokens. Requests that carry no ``tts`` block are passed through
as they came (``forward``).
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import httpx2  # the openai SDK's HTTP client: raw responses are its Response type
import openai

from tts_proxy.answers import extract_probe_answer
from tts_proxy.backends.base import Chunk, Piece, ProbeResult, Sampling, settle
from tts_proxy.backends.forward import ForwardedResponse, Forwarder
from tts_proxy.errors import (
    BackendError,
    BackendTimeoutError,
    BackendUnavailableError,
    TTSProxyError,
)
from tts_proxy.state import BranchState, TokenLogprob

T = TypeVar("T")
AFFINITY_HEADER = "x-session-id"
UNLIKELY = -9999.0  # a logprob vLLM gives no number for (OpenAI's floor; JSON has no -inf)


def _root_url(url: str) -> str:
    url = url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def translate_error(exc: Exception) -> TTSProxyError:
    """Map an SDK exception onto the proxy's error hierarchy."""
    if isinstance(exc, openai.APITimeoutError):
        return BackendTimeoutError("the model server timed out")
    if isinstance(exc, openai.APIConnectionError):
        return BackendUnavailableError(f"the model server is unreachable: {exc}")
    body = exc.body if isinstance(exc, openai.APIError) and isinstance(exc.body, dict) else {}
    message = str(body.get("message") or getattr(exc, "message", exc))
    # An HTTP error status, or (streams) an error event with its code: vLLM's 400s in a
    # stream (a token id out of vocabulary, a schema its grammar refuses) say the same.
    status = exc.status_code if isinstance(exc, openai.APIStatusError) else body.get("code")
    if isinstance(status, int) and 400 <= status < 500:
        err = TTSProxyError(message, param=body.get("param"))
        err.status_code = status
        err.error_type = "invalid_request_error"
        return err
    if isinstance(exc, openai.APIStatusError):
        return BackendError(f"the model server failed: {message}")
    return BackendError(f"the model server answered something unreadable: {exc}")


class VLLMBackend:
    """One vLLM server. Methods raise ``TTSProxyError`` subclasses, never SDK errors."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 600.0,
        observer: Callable[[str, bool], None] | None = None,
        http_client: httpx2.AsyncClient | None = None,
    ):
        self.root = _root_url(base_url)
        self.observer = observer  # told of every call: (kind, succeeded)
        self.forwarder = Forwarder(self.root, f"Bearer {api_key or 'EMPTY'}", timeout)
        self.client = openai.AsyncOpenAI(
            base_url=f"{self.root}/v1",
            api_key=api_key or "EMPTY",
            timeout=timeout,
            max_retries=0,
            http_client=http_client,  # tests pass one with a fault-injecting transport
        )
        self.timeout = timeout
        self.calls = 0
        self._max_model_len: dict[str, int] = {}

    async def close(self) -> None:
        await self.client.close()
        await self.forwarder.close()

    def observe(self, kind: str, ok: bool) -> None:
        self.calls += 1
        if self.observer is not None:
            self.observer(kind, ok)

    async def call(self, kind: str, request: Awaitable[T]) -> T:
        """Await one SDK call: count it by kind, and turn SDK errors into proxy errors.

        The timeout is kept here too, over the whole call: a server that accepts the request
        and then trickles bytes (or nothing) is cut off like one that never answers."""
        try:
            async with asyncio.timeout(self.timeout):
                result = await request
        except TimeoutError as exc:
            self.observe(kind, False)
            raise BackendTimeoutError(f"the model server took over {self.timeout:g} s") from exc
        except openai.OpenAIError as exc:
            self.observe(kind, False)
            raise translate_error(exc) from exc
        except ValueError as exc:  # a body cut short: the SDK's JSON decoding gives up
            self.observe(kind, False)
            raise BackendError(f"the model server sent unreadable JSON: {exc}") from exc
        self.observe(kind, True)
        return result

    async def health(self) -> bool:
        try:
            response = await self.client.get(f"{self.root}/health", cast_to=httpx2.Response)
            return bool(response.status_code == 200)
        except openai.OpenAIError:
            return False

    async def models(self) -> list[dict[str, Any]]:
        data = await self.call("models", self.client.get("/models", cast_to=object))
        models = data.get("data") if isinstance(data, dict) else None
        if not isinstance(models, list):
            raise BackendError("the model server's /v1/models answer has no data list")
        for m in models:
            if isinstance(m, dict) and isinstance(m.get("max_model_len"), int):
                self._max_model_len[str(m["id"])] = m["max_model_len"]
        return models

    async def max_model_len(self, model: str) -> int | None:
        if model not in self._max_model_len:
            await self.models()
        return self._max_model_len.get(model)

    async def tokenize(
        self,
        model: str,
        *,
        prompt: str | None = None,
        messages: Any = None,
        add_special_tokens: bool = True,
        tools: Sequence[Mapping[str, Any]] = (),
    ) -> list[int]:
        """Token ids of a text, or of chat messages (and the tools they may call) rendered with
        the generation prompt."""
        body: dict[str, Any] = {"model": model}
        if messages is not None:
            body |= {"messages": messages, "add_generation_prompt": True}
            if tools:
                body["tools"] = list(tools)
        else:
            body |= {"prompt": prompt or "", "add_special_tokens": add_special_tokens}
        request = self.client.post(f"{self.root}/tokenize", cast_to=object, body=body)
        data = await self.call("tokenize", request)
        tokens = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(tokens, list):
            raise BackendError("the model server's /tokenize answer has no token list")
        return [int(t) for t in tokens]

    async def passthrough(self, path: str, body: bytes, model: str) -> ForwardedResponse:
        """Forward a request body's bytes unchanged; the response streams back as it comes."""
        try:
            response = await self.forwarder.post(path, body)
        except TTSProxyError:
            self.observe("passthrough", False)
            raise
        self.observe("passthrough", response.status_code < 500)
        return response

    def episode(
        self, model: str, prompt_ids: list[int], sampling: Sampling, session: str = ""
    ) -> VLLMEpisode:
        return VLLMEpisode(self, model, prompt_ids, sampling, session)


def _token_logprobs(found: Any, top: int | None, text: str) -> tuple[TokenLogprob, ...]:
    """A completion's logprobs (OpenAI's completions form) as ``TokenLogprob`` records, for
    the tokens of ``text``: vLLM also returns the end-of-sequence token that ended a branch,
    which the text (special tokens skipped) does not hold."""
    if top is None or found is None:
        return ()
    tokens, values = found.tokens or [], found.token_logprobs or []
    alternatives = found.top_logprobs or [None] * len(tokens)
    out = []
    for token, value, alts in zip(tokens, values, alternatives, strict=False):
        ranked = sorted((alts or {}).items(), key=lambda kv: -kv[1])[:top]
        out.append(TokenLogprob(str(token), float(value if value is not None else UNLIKELY),
                                tuple((str(t), float(v)) for t, v in ranked)))  # fmt: skip
    joined = "".join(t.token for t in out)
    while out and len(joined) > len(text) and joined.startswith(text):
        joined = joined[: len(joined) - len(out.pop().token)]
    return tuple(out)


class VLLMEpisode:
    """One search against vLLM: keeps each branch's generated token ids.

    Every call of a branch carries the affinity key ``x-session-id: <session>-<branch>``, so a
    prefix-aware router in front of several vLLM servers (the vLLM production stack's session
    routing, llm-d, Ray Serve) sends a branch's chunks and probes where its prefix is cached.
    """

    max_branches: int | None = None

    def __init__(
        self, backend: VLLMBackend, model: str, prompt_ids: list[int], sampling: Sampling,
        session: str = "",
    ) -> None:  # fmt: skip
        self.backend = backend
        self.model = model
        self.prompt_ids = prompt_ids
        self.sampling = sampling
        self.session = session or uuid.uuid4().hex
        self.ids: dict[int, list[int]] = {}
        self.prefill_tokens = 0

    async def _complete(
        self, kind: str, branch: BranchState, prompt: list[int], **params: Any
    ) -> Any:
        self.prefill_tokens += len(prompt)
        headers = {AFFINITY_HEADER: f"{self.session}-{branch.id}"}
        request = self.backend.client.completions.create(
            model=self.model, prompt=prompt, extra_headers=headers, **params
        )
        return await self.backend.call(kind, request)

    async def extend(
        self, requests: Sequence[tuple[BranchState, int]]
    ) -> Sequence[Chunk | BackendError]:
        return await settle(self._extend(b, n) for b, n in requests)

    def _branch_params(self, branch: BranchState, max_tokens: int) -> dict[str, Any]:
        """A branch's completion parameters: the request's sampling, and its token ids back."""
        s = self.sampling
        extra: dict[str, Any] = {"return_token_ids": True, **s.extra}
        if s.seed is not None:
            # Distinct, reproducible randomness per branch and chunk.
            extra["seed"] = (s.seed * 1_000_003 + branch.id * 10_007 + branch.depth) % 2**31
        return {
            "max_tokens": max_tokens,
            "temperature": s.temperature,
            "top_p": s.top_p if s.top_p is not None else openai.NOT_GIVEN,
            "stop": s.stop if s.stop else openai.NOT_GIVEN,
            "logprobs": max(1, s.logprobs) if s.logprobs is not None else openai.NOT_GIVEN,
            "extra_body": extra,
        }

    async def _extend(self, branch: BranchState, max_tokens: int) -> Chunk:
        s = self.sampling
        ids = self.ids.setdefault(branch.id, [])
        response = await self._complete(
            "chunk", branch, self.prompt_ids + ids, **self._branch_params(branch, max_tokens)
        )
        try:
            choice = response.choices[0]
            new_ids = (choice.model_extra or {}).get("token_ids")
            if not isinstance(new_ids, list):
                raise BackendError("vLLM returned no token_ids (is return_token_ids supported?)")
            ids.extend(int(t) for t in new_ids)
            tokens = response.usage.completion_tokens if response.usage else len(new_ids)
            logprobs = _token_logprobs(choice.logprobs, s.logprobs, choice.text or "")
        except (AttributeError, IndexError, TypeError, ValueError) as exc:
            raise BackendError(f"malformed completion from the model server: {exc}") from exc
        finished = choice.finish_reason == "stop"
        reason = "stop" if finished else None
        return Chunk(tokens, choice.text or "", finished, reason, logprobs=logprobs)

    async def open(self, branch: BranchState, max_tokens: int) -> AsyncIterator[Piece]:
        """Stream the branch from its kept ids; closing the iterator aborts the request."""
        s = self.sampling
        prompt = self.prompt_ids + self.ids.get(branch.id, [])
        params = self._branch_params(branch, max_tokens)
        stream = await self._complete("stream", branch, prompt, stream=True, **params)
        try:
            async for part in stream:
                if not part.choices:  # a usage-only chunk
                    continue
                choice = part.choices[0]
                ids = (choice.model_extra or {}).get("token_ids") or ()
                text = choice.text or ""
                yield Piece(tuple(int(t) for t in ids), text,
                            _token_logprobs(choice.logprobs, s.logprobs, text),
                            choice.finish_reason)  # fmt: skip
        except (openai.OpenAIError, httpx2.HTTPError) as exc:
            self.backend.observe("stream", False)
            refused = translate_error(exc) if isinstance(exc, openai.OpenAIError) else None
            if refused is not None and not isinstance(refused, BackendError):
                raise refused from exc  # the request's fault: every branch would meet it
            raise BackendUnavailableError(f"the branch's stream broke: {exc}") from exc
        except (AttributeError, TypeError, ValueError) as exc:
            raise BackendError(f"malformed stream from the model server: {exc}") from exc
        finally:
            await stream.close()

    def keep(self, branch: BranchState, ids: Sequence[int]) -> None:
        self.ids.setdefault(branch.id, []).extend(ids)

    async def probe(self, branches: Sequence[BranchState]) -> Sequence[ProbeResult | BackendError]:
        return await settle(self._probe(b) for b in branches)

    async def _probe(self, branch: BranchState) -> ProbeResult:
        s = self.sampling
        prompt = self.prompt_ids + self.ids.get(branch.id, []) + list(s.probe_suffix_ids)
        response = await self._complete(
            "probe", branch, prompt, max_tokens=s.probe_tokens, temperature=0.0, logprobs=1
        )
        try:
            choice = response.choices[0]
            text = choice.text or ""
            tokens = response.usage.completion_tokens if response.usage else 0
            logprobs = choice.logprobs.token_logprobs if choice.logprobs else None
        except (AttributeError, IndexError, TypeError) as exc:
            raise BackendError(f"malformed probe completion from the model server: {exc}") from exc
        confidence = None
        if logprobs:
            values = [lp for lp in logprobs if lp is not None]
            confidence = math.exp(sum(values) / len(values)) if values else None
        return ProbeResult(extract_probe_answer(text), tokens, confidence, text)

    async def release(self, branches: Sequence[BranchState]) -> None:
        # Chunks are whole requests (streams are aborted by the engine): nothing is held.
        for b in branches:
            self.ids.pop(b.id, None)
