"""The proxy's request headers, read once at the boundary into a typed record.

``X-TTS-Beta`` sets beta like ``tts.beta`` (the body wins); ``X-TTS-Workflow``,
``X-TTS-Stage`` and ``X-TTS-Run`` tag a workflow stage like ``tts.workflow`` and the rest. The
service sees only ``TTSHeaders``, never the raw headers.
"""

from __future__ import annotations

from collections.abc import Mapping

from tts_proxy.beta import parse_beta
from tts_proxy.errors import InvalidRequestError
from tts_proxy.protocol import NO_HEADERS, TTSHeaders
from tts_proxy.workflows.tags import RUN_HEADER, STAGE_HEADER, WORKFLOW_HEADER, TagFields

BETA_HEADER = "x-tts-beta"
TTS_HEADERS = (BETA_HEADER, WORKFLOW_HEADER, STAGE_HEADER, RUN_HEADER)


def read_headers(headers: Mapping[str, str]) -> TTSHeaders:
    """The TTS headers of a request (``headers`` as Starlette's, case-insensitive)."""
    if not any(name in headers for name in TTS_HEADERS):
        return NO_HEADERS
    raw = headers.get(BETA_HEADER)
    try:
        beta = None if raw is None else parse_beta(raw)
    except ValueError as exc:
        raise InvalidRequestError(f"X-TTS-Beta: {exc}", param="X-TTS-Beta") from None
    tag = TagFields(workflow=headers.get(WORKFLOW_HEADER), stage=headers.get(STAGE_HEADER),
                    run=headers.get(RUN_HEADER))  # fmt: skip
    return TTSHeaders(beta, None if tag == TagFields() else tag)
