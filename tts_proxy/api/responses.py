"""JSON responses that carry any text a model wrote.

vLLM's JSON may escape any code point, lone surrogates included, and UTF-8 cannot encode
those: starlette's ``JSONResponse`` would raise on them (a 500 for the client). Here they are
written as JSON ``\\uXXXX`` escapes, so the client reads back exactly what the model wrote.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse


def json_bytes(content: Any) -> bytes:
    """``content`` as compact UTF-8 JSON, lone surrogates escaped."""
    text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.encode("utf-8", "backslashreplace")


class ModelTextJSONResponse(JSONResponse):
    """A ``JSONResponse`` whose body may hold any model text."""

    def render(self, content: Any) -> bytes:
        return json_bytes(content)
