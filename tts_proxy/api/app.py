"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tts_proxy.answers import workers
from tts_proxy.answers.symbolic import warm_up
from tts_proxy.api import errors, routes
from tts_proxy.api.guard import Guard
from tts_proxy.api.lag import sample_lag
from tts_proxy.backends.base import ModelServer
from tts_proxy.controllers import ControllerRegistry
from tts_proxy.controllers.sandbox import SERVE_LIMITS
from tts_proxy.controllers.trust import TrustList
from tts_proxy.metrics import Metrics
from tts_proxy.service import TTSService
from tts_proxy.settings import Settings
from tts_proxy.traces import TraceWriter


class InFlight:
    """Counts HTTP requests from arrival to their last byte (streams included)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.gauge = metrics.in_flight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.gauge.inc()
        done = False

        async def tracking_send(message: Message) -> None:
            nonlocal done
            await send(message)
            last = message["type"] == "http.response.body" and not message.get("more_body")
            if last and not done:
                done = True
                self.gauge.dec()

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            if not done:
                self.gauge.dec()


def create_app(
    settings: Settings, backend: ModelServer, registry: ControllerRegistry | None = None
) -> FastAPI:
    """An app serving ``backend``; the backend and the trace writer close with the app."""
    registry = registry or ControllerRegistry(
        [settings.controllers_dir] if settings.controllers_dir else [],
        trust=TrustList.read(settings.trusted_controllers_file),
        untrusted=settings.untrusted_controllers,
        sandbox=replace(SERVE_LIMITS, wall_seconds=settings.sandboxed_decide_seconds),
    )
    metrics = Metrics(settings.savings_file)
    backend.observer = metrics.backend_call
    traces = (
        TraceWriter(settings.trace_dir, max_bytes=settings.trace_max_bytes)
        if settings.trace_dir is not None
        else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service: TTSService = app.state.service
        answer_workers = await asyncio.to_thread(
            workers.configure, settings.answer_workers, timeout=settings.answer_timeout_seconds
        )
        # Start the workers now (the forkserver loads sympy once), not on the first request.
        await answer_workers.acall(warm_up, (), fallback=None)
        tasks = [asyncio.create_task(sample_lag(metrics.event_loop_lag))]
        if settings.controllers_dir is not None and settings.controllers_poll_seconds > 0:
            tasks.append(asyncio.create_task(service.watch_controllers()))
        if settings.plans_dir is not None:
            await service.plans.reload()
            if settings.plans_poll_seconds > 0:
                tasks.append(asyncio.create_task(service.plans.watch()))
        yield
        for task in tasks:
            task.cancel()
        await asyncio.to_thread(registry.close)  # sandboxed controllers' workers
        await backend.close()
        if traces is not None:
            await asyncio.to_thread(traces.close)
        await asyncio.to_thread(answer_workers.close)

    app = FastAPI(title="tts-proxy", version="0.1.0", lifespan=lifespan)
    service = app.state.service = TTSService(settings, backend, registry, metrics, traces)
    errors.install(app)
    app.include_router(routes.router)
    if settings.admin_port is None:
        app.include_router(routes.admin_router)
    else:  # served apart (cli.serve runs it on the admin port); the main port has none of it
        app.state.admin_app = _admin_app(settings, service)
    app.add_middleware(InFlight, metrics=metrics)
    _guard(app, settings)
    return app


def _admin_app(settings: Settings, service: TTSService) -> FastAPI:
    """``/metrics`` and ``/admin/*`` alone, over the main app's service."""
    admin = FastAPI(title="tts-proxy admin", version="0.1.0")
    admin.state.service = service
    errors.install(admin)
    admin.include_router(routes.admin_router)
    _guard(admin, settings)
    return admin


def _guard(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(
        Guard,
        keys=settings.client_keys(),
        max_body_bytes=settings.max_body_bytes,
        metrics_open=not settings.metrics_require_key,
    )
