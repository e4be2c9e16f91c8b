"""Every Prometheus metric the proxy exports, declared in one place.

Names follow Prometheus conventions: prefix ``tts_``, base units, counters end in ``_total``.
Labels come only from bounded sets: controller names (the registry), model names (the
backend's list; anything else is ``other``), workflows and stages named by an active plan
(anything else is ``other``), outcomes, token kinds and call kinds.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tts_proxy.controllers import ControllerRegistry, Trust, builtin_controllers
from tts_proxy.savings import read_report

COUNT_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
OTHER = "other"


class ReplaySavings(Collector):
    """``tts_replay_savings_ratio`` and ``tts_replay_accuracy_delta_points``: per controller
    and beta, the share of the report's baseline tokens saved on replayed data, and the
    accuracy difference there -- read at scrape time from the savings report
    (``tts_proxy.savings``, written by ``benchmarks/frontier.py``)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def collect(self) -> Iterable[Metric]:
        labels = ["controller", "beta", "baseline"]
        ratio = GaugeMetricFamily(
            "tts_replay_savings_ratio",
            "Share of the baseline's tokens a controller saved in its replay evaluation",
            labels=labels,
        )
        delta = GaugeMetricFamily(
            "tts_replay_accuracy_delta_points",
            "Accuracy minus the baseline's, in points, in the same replay evaluation",
            labels=labels,
        )
        report = read_report(self.path)
        for controller, points in sorted((report.controllers if report else {}).items()):
            for p in points:
                values = [controller, f"{p.beta:g}", report.baseline]  # type: ignore[union-attr]
                ratio.add_metric(values, p.savings_ratio)
                delta.add_metric(values, p.accuracy_delta_points)
        yield ratio
        yield delta


class AnswerWork(Collector):
    """``tts_answer_work_cut_off_total``: answer parses and grades that the answer workers'
    time or memory limit stopped (the answer was keyed by its text instead)."""

    def collect(self) -> Iterable[Metric]:
        from tts_proxy.answers import workers

        family = CounterMetricFamily(
            "tts_answer_work_cut_off",
            "Answer parses and grades stopped by the answer workers' time or memory limit",
        )
        family.add_metric([], workers.shared().cut_off)
        yield family


class Metrics:
    """The proxy's metrics, in their own registry (so several apps can live in one process)."""

    def __init__(self, savings_file: Path | None = None) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "tts_requests_total", "Requests by controller, model and outcome",
            ["controller", "model", "outcome"], registry=r,
        )  # fmt: skip
        self.tokens = Counter(
            "tts_tokens_total", "Tokens spent by TTS requests, by kind (branch, probe, prompt)",
            ["controller", "model", "kind"], registry=r,
        )  # fmt: skip
        self.tokens_saved = Counter(
            "tts_estimated_tokens_saved_total",
            "Baseline tokens minus tokens spent, per request floored at 0 (the baseline: "
            "self-consistency at the reference width)",
            ["controller", "model"], registry=r,
        )  # fmt: skip
        self.baseline_tokens = Counter(
            "tts_baseline_tokens_total",
            "Tokens the baseline (self-consistency at the reference width) would have spent",
            ["controller", "model"], registry=r,
        )  # fmt: skip
        self.live_savings = Gauge(
            "tts_live_savings_ratio",
            "1 - tokens spent / baseline tokens, over this process's requests (negative: more)",
            ["controller"], registry=r,
        )  # fmt: skip
        self._spent: dict[str, tuple[int, int]] = {}  # controller -> (spent, baseline)
        self.branches = Histogram(
            "tts_branches_per_request", "Branches started per TTS request", ["controller"],
            buckets=COUNT_BUCKETS, registry=r,
        )  # fmt: skip
        self.probes = Histogram(
            "tts_probes_per_request", "Probes per TTS request", ["controller"],
            buckets=COUNT_BUCKETS, registry=r,
        )  # fmt: skip
        self.pruned = Histogram(
            "tts_pruned_branches_per_request", "Pruned branches per TTS request", ["controller"],
            buckets=COUNT_BUCKETS, registry=r,
        )  # fmt: skip
        self.rounds = Histogram(
            "tts_rounds_per_request", "Controller rounds per TTS request", ["controller"],
            buckets=COUNT_BUCKETS, registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "tts_request_duration_seconds", "Time from request to last byte", ["controller"],
            buckets=SECONDS_BUCKETS, registry=r,
        )  # fmt: skip
        self.ttfb = Histogram(
            "tts_time_to_first_byte_seconds", "Time from request to the first content byte",
            ["controller"], buckets=SECONDS_BUCKETS, registry=r,
        )  # fmt: skip
        self.backend_calls = Counter(
            "tts_backend_calls_total", "Calls to the model server, by kind", ["kind"], registry=r
        )
        self.backend_errors = Counter(
            "tts_backend_errors_total", "Failed calls to the model server, by kind", ["kind"],
            registry=r,
        )  # fmt: skip
        self.in_flight = Gauge("tts_requests_in_flight", "Requests being served", registry=r)
        self.early_answers = Counter(
            "tts_early_answers_total", "TTS requests answered from a probe before a branch ended",
            ["controller", "model"], registry=r,
        )  # fmt: skip
        self.controller_faults = Counter(
            "tts_controller_faults_total",
            "Controller misbehaviour the engine stopped or dropped, by kind (controller_error, "
            "round_limit, no_progress, inadmissible_action)",
            ["controller", "kind"], registry=r,
        )  # fmt: skip
        self.failed_branches = Counter(
            "tts_failed_branches_total", "Branches lost to backend errors (the search went on)",
            ["model"], registry=r,
        )  # fmt: skip
        self.controllers = Gauge(
            "tts_controllers",
            "Controllers by how they are served: builtin, data (documents), trusted (in process), "
            "sandboxed (OS sandbox; a document with a sandboxed piece too); refused counts files "
            "that are not served",
            ["trust"], registry=r,
        )  # fmt: skip
        self.controller_reloads = Counter(
            "tts_controller_reloads_total", "Reloads of the controllers directory", registry=r
        )
        self.event_loop_lag = Histogram(
            "tts_event_loop_lag_seconds",
            "How late the event loop ran a timer (sampled every 0.25 s): time it was blocked",
            buckets=LAG_BUCKETS, registry=r,
        )  # fmt: skip
        self.flops = Counter(
            "tts_estimated_flops_total",
            "Estimated FLOPs of TTS requests (2 x parameters x tokens), by controller and model",
            ["controller", "model"], registry=r,
        )  # fmt: skip
        self.workflow_requests = Counter(
            "tts_workflow_requests_total",
            "Requests tagged with a workflow stage, by outcome: planned (the plan chose model "
            "and budget), no_plan (the workflow has none), unplanned_stage (its plan has none), "
            "explore (explorations run what they ask), plan_invalid (its controller is gone)",
            ["workflow", "stage", "outcome"], registry=r,
        )  # fmt: skip
        self.workflow_tokens = Counter(
            "tts_workflow_tokens_total", "Tokens of workflow-tagged searches, by stage and model",
            ["workflow", "stage", "model"], registry=r,
        )  # fmt: skip
        self.workflow_flops = Counter(
            "tts_workflow_flops_total",
            "Estimated FLOPs of workflow-tagged searches (2 x parameters x tokens), by stage",
            ["workflow", "stage", "model"], registry=r,
        )  # fmt: skip
        self.plans = Gauge(
            "tts_workflow_plans", "Plan files by verdict (served, refused)", ["verdict"], registry=r
        )
        r.register(ReplaySavings(savings_file))
        r.register(AnswerWork())

    def saved(self, controller: str, model: str, spent: int, baseline: int | None) -> None:
        """Count one request's spend against its baseline (the live savings ratio)."""
        if baseline is None:
            return
        self.baseline_tokens.labels(controller, model).inc(baseline)
        self.tokens_saved.labels(controller, model).inc(max(0, baseline - spent))
        total_spent, total_baseline = self._spent.get(controller, (0, 0))
        total_spent, total_baseline = total_spent + spent, total_baseline + baseline
        self._spent[controller] = (total_spent, total_baseline)
        if total_baseline:
            self.live_savings.labels(controller).set(1 - total_spent / total_baseline)

    def count_controllers(self, registry: ControllerRegistry) -> None:
        """Set ``tts_controllers`` from the registry's verdicts."""
        counts = {trust: 0 for trust in Trust}
        counts[Trust.BUILTIN] = len(builtin_controllers())
        for file in registry.files:
            counts[file.trust] += len(file.controllers) if file.controllers else 1
        for trust, n in counts.items():
            self.controllers.labels(trust.value).set(n)

    def backend_call(self, kind: str, ok: bool) -> None:
        self.backend_calls.labels(kind).inc()
        if not ok:
            self.backend_errors.labels(kind).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
