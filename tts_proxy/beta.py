"""Beta, the user's one knob: a number in [0, 1]; more beta, more compute.

One type for the request body (``tts.beta``), the ``X-TTS-Beta`` header, the settings
(``TTS_DEFAULT_BETA``) and the CLI (``--beta``), validated in one place. What a beta does is
each controller's own monotone map (``controllers/``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter, ValidationError

Beta = Annotated[
    float, Field(ge=0.0, le=1.0, allow_inf_nan=False, description="compute knob, in [0, 1]")
]
_BETA: TypeAdapter[float] = TypeAdapter(Beta)


def parse_beta(value: str | float) -> float:
    """``value`` as a beta; a ``ValueError`` that says what a beta is, when it is not one."""
    try:
        return _BETA.validate_python(value)
    except ValidationError:
        raise ValueError(f"beta must be a number in [0, 1], got {value!r}") from None
