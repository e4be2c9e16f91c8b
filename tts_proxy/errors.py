"""Every error the proxy raises, as one hierarchy.

Each class knows its HTTP status and OpenAI error ``type``; the API boundary renders any
``TTSProxyError`` as an OpenAI error body and nothing else leaks out.
"""

from __future__ import annotations


class TTSProxyError(Exception):
    """Base class. ``param`` names the offending request field, when there is one."""

    status_code: int = 500
    error_type: str = "internal_error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


class InvalidRequestError(TTSProxyError):
    status_code = 400
    error_type = "invalid_request_error"


class UnknownControllerError(InvalidRequestError):
    """A controller name that the registry does not hold."""


class AuthenticationError(TTSProxyError):
    """No API key, or one the server does not know."""

    status_code = 401
    error_type = "invalid_request_error"


class RequestTooLargeError(InvalidRequestError):
    status_code = 413


class OverloadedError(TTSProxyError):
    """The server is at its concurrency limit and its queue is full: retry later."""

    status_code = 429
    error_type = "rate_limit_error"


class NotFoundError(TTSProxyError):
    status_code = 404
    error_type = "not_found_error"


class BackendError(TTSProxyError):
    """The model server answered with an error or garbage."""

    status_code = 502
    error_type = "backend_error"


class BackendUnavailableError(BackendError):
    """The model server could not be reached."""

    status_code = 503


class BackendTimeoutError(BackendError):
    status_code = 504


class ControllerLoadError(TTSProxyError):
    """A controller file that could not be imported or does not define a controller."""


class ReplayDataError(TTSProxyError):
    """A replay file whose content is not a format the importers know."""


class PlanError(TTSProxyError):
    """A workflow plan that cannot be served or searched: unreadable, invalid, or naming a
    model, controller or stage that is not there."""


class CollectError(TTSProxyError):
    """A collection run stopped: the proxy could not be reached, refused a question, or is
    not tts-proxy. What was collected is kept; the next run resumes after it."""


class WorkerLostError(TTSProxyError):
    """A discovery worker process died mid-task (killed, or out of memory): the run stops,
    and what its history holds is kept for the next run to resume from."""
