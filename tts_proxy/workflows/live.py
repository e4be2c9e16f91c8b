"""The live side of workflow plans: the plans directory read and watched, a tagged request
resolved to its stage's plan, and tagged requests counted.

Metric labels stay bounded: a workflow or stage is named only when a served plan names it
(anything else is ``other``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from tts_proxy.backends.base import ModelServer
from tts_proxy.controllers import ControllerRegistry
from tts_proxy.errors import TTSProxyError
from tts_proxy.metrics import OTHER, Metrics
from tts_proxy.settings import Settings
from tts_proxy.workflows.book import PlanBook
from tts_proxy.workflows.plan import StagePlan
from tts_proxy.workflows.tags import WorkflowTag

log = logging.getLogger("tts_proxy")


class LivePlans:
    """The plans a running proxy serves."""

    def __init__(self, settings: Settings, backend: ModelServer, registry: ControllerRegistry,
                 metrics: Metrics) -> None:  # fmt: skip
        self.settings = settings
        self.backend = backend
        self.registry = registry
        self.metrics = metrics
        self.book = PlanBook(settings.plans_dir)
        self._lock = asyncio.Lock()

    async def reload(self) -> dict[str, Any]:
        """Re-read the plans directory, each plan checked against the models the backends
        serve, the controllers the registry holds and the server's width cap."""
        async with self._lock:
            try:
                models = {str(m.get("id")) for m in await self.backend.models()}
            except TTSProxyError:
                models = set()  # no backend answers: every plan waits (checked again later)
            before = [(f.path, f.reason) for f in self.book.files]
            await asyncio.to_thread(self.book.reload, models, self.registry.names(),
                                    self.settings.max_branches)  # fmt: skip
        if [(f.path, f.reason) for f in self.book.files] != before:
            for f in self.book.files:
                if f.plan is not None:
                    log.info("plan %s: %s (%s)", f.plan.workflow, f.plan.describe(), f.path)
                else:
                    log.warning("plan file %s not served: %s", f.path, f.reason)
        served = sum(f.plan is not None for f in self.book.files)
        self.metrics.plans.labels("served").set(served)
        self.metrics.plans.labels("refused").set(len(self.book.files) - served)
        return self.listing()

    def listing(self) -> dict[str, Any]:
        return {
            "plans": {w: p.model_dump(by_alias=True, exclude_none=True)
                      for w, p in self.book.plans.items()},
            "files": [{"path": f.path, "workflow": f.plan.workflow if f.plan else None,
                       "served": f.plan is not None, "reason": f.reason}
                      for f in self.book.files],
        }  # fmt: skip

    async def watch(self) -> None:
        """Reload when a plan file appears, changes or goes; while a file is refused, again
        every backend cooldown (its model may come up on a backend)."""
        versions = await asyncio.to_thread(self.book.versions)
        waited = 0.0
        while True:
            await asyncio.sleep(self.settings.plans_poll_seconds)
            waited += self.settings.plans_poll_seconds
            try:
                now = await asyncio.to_thread(self.book.versions)
                refused = any(f.plan is None for f in self.book.files)
                if now != versions or (
                    refused and waited >= self.settings.backend_cooldown_seconds
                ):
                    versions, waited = now, 0.0
                    await self.reload()
            except Exception:  # a bad moment must not end the watch
                log.exception("reloading the plans directory failed")

    def _labels(self, tag: WorkflowTag) -> tuple[str, str]:
        has_plan, has_stage = self.book.knows(tag)
        return (tag.workflow if has_plan else OTHER), (tag.stage if has_stage else OTHER)

    def resolve(self, tag: WorkflowTag, *, explore: bool = False) -> StagePlan | None:
        """The plan's stage for a tagged request (None: it runs as if untagged), counted by
        outcome: planned, no_plan, unplanned_stage, explore (explorations run what they
        ask: they measure the candidates), or plan_invalid (its controller is gone)."""
        has_plan, has_stage = self.book.knows(tag)
        stage = self.book.stage(tag)
        outcome = "planned" if has_stage else "unplanned_stage" if has_plan else "no_plan"
        if stage is not None and explore:
            stage, outcome = None, "explore"
        elif stage is not None and stage.controller_name not in (None, *self.registry.names()):
            stage, outcome = None, "plan_invalid"
        workflow, stage_label = self._labels(tag)
        self.metrics.workflow_requests.labels(workflow, stage_label, outcome).inc()
        return stage

    def observe(self, tag: WorkflowTag, model: str, tokens: int, flops: float | None) -> None:
        """Count a tagged search's tokens and FLOPs by workflow, stage and model."""
        workflow, stage = self._labels(tag)
        self.metrics.workflow_tokens.labels(workflow, stage, model).inc(tokens)
        if flops is not None:
            self.metrics.workflow_flops.labels(workflow, stage, model).inc(flops)
