"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tts_proxy.api import errors, routes
from tts_proxy.backends.base import ModelServer
from tts_proxy.controllers import ControllerRegistry
from tts_proxy.service import TTSService
from tts_proxy.settings import Settings


def create_app(
    settings: Settings, backend: ModelServer, registry: ControllerRegistry | None = None
) -> FastAPI:
    """An app serving ``backend``; the backend is closed when the app shuts down."""
    registry = registry or ControllerRegistry(
        [settings.controllers_dir] if settings.controllers_dir else []
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await backend.close()

    app = FastAPI(title="tts-proxy", version="0.1.0", lifespan=lifespan)
    app.state.service = TTSService(settings, backend, registry)
    errors.install(app)
    app.include_router(routes.router)
    return app
