"""Real HTTP servers for tests: any ASGI app under uvicorn in a thread, on a loopback port."""

from __future__ import annotations

import threading
import time
from typing import Self

import uvicorn
from starlette.types import ASGIApp

from tts_proxy.api.app import create_app
from tts_proxy.backends.vllm import VLLMBackend
from tts_proxy.embedded.server import free_port
from tts_proxy.settings import Settings


class ServedApp:
    """``app`` served by uvicorn (lifespan included) until the ``with`` block ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise TimeoutError("the server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class ProxyServer(ServedApp):
    """The proxy in front of the model server at ``backend_url``."""

    def __init__(self, settings: Settings, backend_url: str) -> None:
        super().__init__(create_app(settings, VLLMBackend(backend_url)))
