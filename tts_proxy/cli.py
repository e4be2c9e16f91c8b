"""tts-proxy: an OpenAI-compatible test-time-scaling proxy in front of vLLM.

Commands: serve (the proxy), replay (a controller on recorded data), collect (explore a
dataset through the proxy), discover (new controllers from logged traffic), plan (per-stage
plans for multi-stage workflows)."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import typing
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any, Literal

from pydantic import ValidationError

from tts_proxy import flags
from tts_proxy.controllers.document import Family
from tts_proxy.errors import TTSProxyError, WorkerLostError


def _serve(args: argparse.Namespace) -> int:
    from tts_proxy.api.app import create_app
    from tts_proxy.settings import Settings

    overrides: dict[str, Any] = {}
    for name in SERVE_FLAGS:
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value == "true" if value in ("true", "false") else value
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        print(f"tts-proxy: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _raise_stopped)
    signal.signal(signal.SIGINT, _raise_stopped)
    embedded = _embedded(settings) if settings.backend_url is None else None
    try:
        if embedded is not None:
            sizes = _sized(settings, embedded)
            settings = settings.model_copy(
                update={"backend_url": embedded.url, "model_parameters": sizes}
            )
        # The app (its controllers loaded) before vLLM: a bad default fails in a second.
        app = create_app(settings, _backends(settings))
        if not _controllers_ready(app.state.service.registry, settings):
            return 2
        if embedded is not None and not _started(embedded):
            return 1
        _say(f"serving on http://{settings.host}:{settings.port}/v1")
        _say(f"traces: {settings.trace_dir.resolve() if settings.trace_dir else 'off'}")
        asyncio.run(_serve_until_stopped(app, settings))
    except _Stopped as stop:
        return stop.code
    finally:
        if embedded is not None and embedded.process is not None:
            _say("stopping vLLM")
            embedded.stop()
    return 0


def _say(message: str) -> None:
    print(f"[tts-proxy] {message}", file=sys.stderr, flush=True)


def _controllers_ready(registry: Any, settings: Any) -> bool:
    """Say how each controller is served (built-in, data, trusted, sandboxed -- or refused);
    False, saying why, when the default controller is not among them."""
    from tts_proxy.controllers import builtin_controllers

    _say(f"controllers, built-in: {', '.join(sorted(builtin_controllers()))}")
    folder = settings.controllers_dir
    if folder is not None and not folder.is_dir():
        _say(f"controllers: {folder} is not a directory (yet): nothing is loaded from it")
    for file in registry.files:
        names = ", ".join(c.name for c in file.controllers)
        detail = names if file.reason is None else file.reason
        _say(f"controllers, {file.trust.value}: {detail} ({file.path})")
    if settings.default_controller in registry:
        return True
    print(f"tts-proxy: the default controller {settings.default_controller!r} is not one of "
          f"them (--default-controller); available: {', '.join(registry.names())}",
          file=sys.stderr)  # fmt: skip
    return False


def _embedded(settings: Any) -> Any:
    """The embedded vLLM of ``settings`` (its model prepared on first use), not started."""
    from tts_proxy.embedded.model import prepare_default_model
    from tts_proxy.embedded.server import EmbeddedVLLM

    model_dir = settings.model_path or prepare_default_model()
    return EmbeddedVLLM(model_dir, served_name=settings.served_name)


def _sized(settings: Any, embedded: Any) -> dict[str, float]:
    """The parameter counts of the settings, with the embedded model's counted from its
    files (FLOPs estimates) unless a setting gives it."""
    from tts_proxy.workflows.flops import count_parameters

    sizes = dict(settings.model_parameters)
    if settings.served_name not in sizes:
        counted = count_parameters(embedded.model_dir)
        if counted is not None:
            sizes[settings.served_name] = float(counted)
            _say(f"{settings.served_name}: {counted / 1e6:.1f}M parameters (for FLOPs estimates)")
    return sizes


def _started(embedded: Any) -> bool:
    """Start the embedded vLLM and wait until it is ready; False (saying why) if it fails."""
    _say(f"starting vLLM ({embedded.model_dir}) on {embedded.url}; its log: {embedded.log_path}")
    embedded.start()
    try:
        embedded.wait_ready(progress=True)
    except (RuntimeError, TimeoutError) as exc:
        print(f"tts-proxy: {exc}", file=sys.stderr)
        return False
    return True


def _backends(settings: Any) -> Any:
    from tts_proxy.backends.pool import BackendPool
    from tts_proxy.backends.vllm import VLLMBackend

    key = settings.backend_api_key.get_secret_value() if settings.backend_api_key else None
    servers = [
        VLLMBackend(url, api_key=key, timeout=settings.backend_timeout)
        for url in [settings.backend_url, *settings.backend_urls]
    ]
    if len(servers) == 1:
        return servers[0]
    return BackendPool(servers, cooldown=settings.backend_cooldown_seconds)


class _Stopped(Exception):
    """A stop signal arrived; the servers drained (uvicorn re-raises the signal after)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.code = 128 + signum


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise _Stopped(signum)


async def _serve_until_stopped(app: Any, settings: Any) -> None:
    """Serve the main (and admin) port until SIGTERM or SIGINT. uvicorn drains in-flight
    requests (up to ``shutdown_grace_seconds``) and runs the app's shutdown (traces flushed),
    then re-raises the signal: it arrives here as ``_Stopped``, so the caller still stops
    the embedded vLLM (the watchdog would too, once this process is gone)."""
    import uvicorn

    grace = settings.shutdown_grace_seconds
    configs = [
        uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info",
                       timeout_graceful_shutdown=grace, access_log=settings.access_log)
    ]  # fmt: skip
    if settings.admin_port is not None:
        _say(f"/metrics and /admin on {settings.admin_host}:{settings.admin_port}")
        configs.append(
            uvicorn.Config(app.state.admin_app, host=settings.admin_host,
                           port=settings.admin_port, log_level="warning",
                           timeout_graceful_shutdown=grace)
        )  # fmt: skip
    await asyncio.gather(*(uvicorn.Server(c).serve() for c in configs))


def _replay(args: argparse.Namespace) -> int:
    from tts_proxy.controllers import ControllerRegistry
    from tts_proxy.controllers.base import Limits
    from tts_proxy.replay.evaluate import evaluate
    from tts_proxy.replay.importers import load_replay
    from tts_proxy.streamed import ENGINES

    registry = ControllerRegistry([args.controllers_dir] if args.controllers_dir else [])
    controller = registry.get(args.controller)
    questions = load_replay(args.data)
    limits = Limits(max_branches=args.max_branches) if args.max_branches else None
    result = evaluate(
        controller,
        questions,
        args.beta,
        limits=limits,
        repeats=args.repeats,
        seed=args.seed,
        pool=args.pool,
        engine=ENGINES[args.engine],
    )
    summary = result.summary() | {"data": str(args.data), "engine": args.engine}
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key:>22}: {value}")
    return 0


def _collect(args: argparse.Namespace) -> int:
    import asyncio

    from tts_proxy.collect import collect

    if args.workflow is not None:
        return _collect_workflow(args)
    if args.width is None:
        print("tts-proxy: collect needs --width (or --workflow)", file=sys.stderr)
        return 2
    results = asyncio.run(
        collect(
            args.dataset,
            base_url=args.base_url,
            model=args.model,
            width=args.width,
            concurrency=args.concurrency,
            limit=args.limit,
            max_tokens=args.max_tokens,
            chunk_tokens=args.chunk_tokens,
            state=args.state,
            confidence=args.confidence,
        )
    )
    print(json.dumps({"collected": len(results)}))
    return 0


def _collect_workflow(args: argparse.Namespace) -> int:
    from tts_proxy.workflows.definition import read_spec
    from tts_proxy.workflows.explore import explore

    spec = read_spec(args.workflow)
    log = args.state or Path(f"explore-{spec.workflow}.jsonl")
    done = asyncio.run(explore(spec, args.dataset, base_url=args.base_url, log=log,
                               limit=args.limit, concurrency=args.concurrency))  # fmt: skip
    print(json.dumps({"explored": len(done), "log": str(log)}))
    return 0


def _discover(args: argparse.Namespace) -> int:
    import logging

    import openai

    from tts_proxy.discovery.agent import AgentProposer
    from tts_proxy.discovery.environments import split_environments
    from tts_proxy.discovery.loop import DiscoverOptions, Discovery

    logging.basicConfig(level=logging.INFO, format="[discover] %(message)s")
    split = split_environments(
        args.traces, held_out=args.held_out, held_out_share=args.held_out_share, seed=args.seed
    )
    agent = None
    if args.agent_base_url:
        client = openai.OpenAI(
            base_url=args.agent_base_url,
            api_key=args.agent_api_key,
            timeout=args.agent_timeout,
            max_retries=1,
        )
        agent = AgentProposer(
            client,
            args.agent_model,
            max_prompt_chars=args.agent_prompt_chars,
            max_tokens=args.agent_max_tokens,
        )
    options = DiscoverOptions(
        out=args.out,
        reports=args.reports,
        name=args.name,
        rounds=args.rounds,
        trials=args.trials,
        repeats=args.repeats,
        final_repeats=args.final_repeats,
        report_repeats=args.report_repeats,
        seed=args.seed,
        budget_minutes=args.budget_minutes,
        history=args.history,
        stitch=args.stitch,
        storage=args.storage,
        workers=args.workers,
        learned=args.learned,
    )
    if args.families:
        options.families = tuple(args.families)
    try:
        report = Discovery(split, options, agent).run()
    except (ValueError, WorkerLostError) as exc:
        print(f"tts-proxy discover: {exc}", file=sys.stderr)
        return 1
    verdict = report["held_out"]["comparison"]
    summary = {
        "controller": report["file"],
        "report": str(args.reports / f"{args.name}.json"),
        "dominates_builtins_on_held_out": verdict["dominates"],
        "points_below": verdict["points_below"],
        "worst": verdict["worst"],
        "search": report["search"],
    }
    print(json.dumps(summary))
    return 0


# The settings `serve` takes as flags (each is also TTS_<NAME> in the environment).
SERVE_FLAGS = (
    "host", "port", "backend_url", "backend_urls", "model_path", "served_model_name",
    "controllers_dir", "trusted_controllers_file", "untrusted_controllers",
    "default_controller", "default_beta", "max_branches", "chunk_tokens", "max_branch_tokens",
    "engine", "trace_dir", "log_prompts", "explore_rate", "admin_port", "api_keys_file",
    "answer_workers", "shutdown_grace_seconds", "savings_reference_width", "plans_dir",
    "access_log",
    "plans_poll_seconds",
)  # fmt: skip
FLAG_NAMES = {"model_path": "--model"}


def _setting_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per setting in ``SERVE_FLAGS``, its help and default taken from ``Settings``
    (the one place that says what each means)."""
    from tts_proxy.settings import Settings

    for name in SERVE_FLAGS:
        info = Settings.model_fields[name]
        default = info.get_default(call_default_factory=True)
        shown = "none" if default in (None, []) else default
        what = info.description or name.replace("_", " ")
        help_text = f"{what} (default: {shown}; env TTS_{name.upper()})"
        flag = FLAG_NAMES.get(name, "--" + name.replace("_", "-"))
        kinds = {int: int, float: float, Path: Path}
        base = next((t for t in kinds if t in _types_of(info.annotation)), str)
        if name == "backend_urls":
            parser.add_argument(flag, nargs="*", dest=name, help=help_text)
        elif bool in _types_of(info.annotation):
            parser.add_argument(flag, choices=["true", "false"], dest=name, help=help_text)
        elif typing.get_origin(info.annotation) is Literal:
            choices = list(typing.get_args(info.annotation))
            parser.add_argument(flag, choices=choices, dest=name, help=help_text)
        else:
            metavar = "PATH_OR_NAME" if name == "model_path" else None
            parser.add_argument(flag, type=kinds.get(base, str), dest=name, help=help_text,
                                metavar=metavar)  # fmt: skip


def _types_of(annotation: Any) -> set[Any]:
    args = typing.get_args(annotation)
    return set(args) if args else {annotation}


def _controller_help() -> str:
    from tts_proxy.controllers import builtin_controllers

    return "built-in: " + ", ".join(sorted(builtin_controllers()))


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a flag's default, unless it has none to show."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.required or "default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    formatter = _DefaultsFormatter
    parser = argparse.ArgumentParser(prog="tts-proxy", description=__doc__,
                                     formatter_class=formatter)  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the OpenAI-compatible proxy",
                           description="Serve the proxy; with no --backend-url, start an "
                           "embedded vLLM (--model-path, or the default SmolLM2).")  # fmt: skip
    _setting_flags(serve)
    serve.set_defaults(func=_serve)

    replay = sub.add_parser("replay", help="evaluate a controller on recorded trajectories",
                            formatter_class=formatter)  # fmt: skip
    replay.add_argument("--data", type=Path, required=True,
                        help="AutoTTS replay JSON, full-text samples JSONL, or traces")  # fmt: skip
    replay.add_argument("--controller", required=True, help=_controller_help())
    replay.add_argument("--beta", type=flags.beta, required=True, help="in [0, 1]")
    replay.add_argument("--repeats", type=flags.count, default=16, help="orderings per question")
    replay.add_argument("--seed", type=int, default=0, help="seed of the orderings")
    replay.add_argument(
        "--pool", type=flags.count, help="use N of the recorded trajectories per question"
    )
    replay.add_argument("--max-branches", type=flags.count, help="width cap (default: the pool)")
    replay.add_argument("--controllers-dir", type=Path, help="more controllers (documents)")
    replay.add_argument("--engine", choices=["round", "streamed"], default="round",
                        help="by rounds (default), or by the streamed engine's token clock "
                        "(steps arriving at the same tick are decided together)")  # fmt: skip
    replay.add_argument("--json", action="store_true", help="print one JSON line")
    replay.set_defaults(func=_replay)

    col = sub.add_parser("collect", help="send a dataset through the proxy in explore mode",
                         formatter_class=formatter)  # fmt: skip
    col.add_argument("--dataset", type=Path, required=True,
                     help="JSONL of {question, answer} (the shared datasets' form)")  # fmt: skip
    col.add_argument("--width", type=flags.count,
                     help="branches per question (required without --workflow)")  # fmt: skip
    col.add_argument(
        "--concurrency", type=flags.count, default=1, help="questions in flight at once"
    )
    col.add_argument("--base-url", default="http://127.0.0.1:8000/v1", help="the proxy")
    col.add_argument("--model", default="smollm2", help="the model the proxy serves")
    col.add_argument("--limit", type=flags.count, help="only the first N questions")
    col.add_argument("--max-tokens", type=flags.count, help="length cap of each branch")
    col.add_argument("--chunk-tokens", type=flags.count, help="tokens between probes")
    col.add_argument("--state", type=Path, help="progress file (resumes from it)")
    col.add_argument("--confidence", action="store_true",
                     help="record token confidence per chunk (for deepconf)")  # fmt: skip
    col.add_argument("--workflow", type=Path,
                     help="a tts-workflow/1 file: explore its stages on each of their models "
                     "(the log goes to --state, default explore-WORKFLOW.jsonl)")  # fmt: skip
    col.set_defaults(func=_collect)

    dis = sub.add_parser("discover", help="search for a better controller on logged traffic",
                         formatter_class=formatter)  # fmt: skip
    dis.add_argument("--traces", type=Path, nargs="+", required=True,
                     help="trace directories or replay files")  # fmt: skip
    dis.add_argument("--out", type=Path, default=Path("controllers"), help="where it ships")
    dis.add_argument("--reports", type=Path, default=Path("reports"), help="report directory")
    dis.add_argument("--name", default="discovered", help="the new controller's name")
    dis.add_argument("--rounds", type=flags.count, default=8, help="search rounds")
    dis.add_argument(
        "--trials", type=flags.count, default=4, help="parameter-search points per round"
    )
    dis.add_argument(
        "--repeats", type=flags.count, default=4, help="orderings per point while searching"
    )
    dis.add_argument("--final-repeats", type=flags.count, default=16,
                     help="fresh orderings per point: finalists, the shipped file")  # fmt: skip
    dis.add_argument("--report-repeats", type=flags.count, default=16,
                     help="orderings per point in the held-out report")  # fmt: skip
    dis.add_argument("--held-out", nargs="*", default=[],
                     help="files (name patterns) held out whole, e.g. Qwen3-4B")  # fmt: skip
    dis.add_argument("--held-out-share", type=flags.share,
                     help="share of each other file's questions held out (default: half when "
                     "no file is held out)")  # fmt: skip
    dis.add_argument("--seed", type=int, default=0, help="seed of the search and orderings")
    dis.add_argument("--budget-minutes", type=flags.positive, help="stop searching after this long")
    dis.add_argument(
        "--history",
        type=Path,
        help="history file, resumed from (default: REPORTS/NAME.history.jsonl)",
    )
    dis.add_argument("--storage",
                     help="Optuna storage URL the trials are kept in, shared by workers and "
                     "machines (default: sqlite:///REPORTS/NAME.optuna.db; several machines: "
                     "postgresql://...)")  # fmt: skip
    dis.add_argument("--families", nargs="+", choices=typing.get_args(Family),
                     help="the built-in families the parameter search may choose (default: "
                     "all)")  # fmt: skip
    dis.add_argument("--workers", type=flags.count, default=1,
                     help="processes running trials on the storage and measuring the "
                     "references, finalists and report (the same figures as one)")  # fmt: skip
    dis.add_argument("--no-learned", dest="learned", action="store_false",
                     help="do not fit and propose the learned stopping rule")  # fmt: skip
    dis.add_argument("--no-stitch", dest="stitch", action="store_false",
                     help="ship the best single candidate, not the objective's chain")  # fmt: skip
    _agent_flags(dis)
    dis.add_argument(
        "--agent-timeout", type=flags.positive, default=300.0, help="seconds per proposal"
    )
    dis.add_argument(
        "--agent-max-tokens", type=flags.count, default=1500, help="tokens per proposal"
    )
    dis.add_argument("--agent-prompt-chars", type=flags.count, default=12_000,
                     help="cap on the agent's brief")  # fmt: skip
    dis.set_defaults(func=_discover)
    _plan_parser(sub, formatter)
    return parser


def _agent_flags(parser: argparse.ArgumentParser) -> None:
    """Where an LLM agent is reached (discover and plan)."""
    parser.add_argument("--agent-base-url", help="OpenAI-compatible endpoint of the agent model")
    parser.add_argument("--agent-model", default="gpt-4o", help="the agent's model name")
    parser.add_argument("--agent-api-key", default="none", help="the agent endpoint's key")


def _plan_parser(sub: Any, formatter: type[argparse.HelpFormatter]) -> None:
    plan = sub.add_parser("plan", help="search a workflow's per-stage plan under a FLOPs budget",
                          formatter_class=formatter,
                          description="Search per-stage models and samples for a workflow "
                          "(AgentTTS) on recorded outcomes, compare the search methods, and "
                          "write the plan file (for serve --plans-dir) and a report.")  # fmt: skip
    plan.add_argument("--workflow", required=True, help="the workflow's name (the plan's)")
    plan.add_argument("--data", type=Path, required=True,
                      help="a tts-workflow-env/1 JSON, an AgentTTS-style CSV grid, the "
                      "exploration log of collect --workflow, or a directory of per-model "
                      "replay directories (a cascade)")  # fmt: skip
    plan.add_argument("--traces", type=Path, default=Path("traces"),
                      help="the proxy's trace directory (for an exploration log)")  # fmt: skip
    budget = plan.add_mutually_exclusive_group()
    budget.add_argument(
        "--flops-budget", type=flags.positive, help="mean FLOPs per run at most this"
    )
    budget.add_argument("--budget-share", type=flags.share, default=0.5,
                        help="budget at this share (log scale) from the cheapest plan's cost "
                        "to the dearest's")  # fmt: skip
    plan.add_argument(
        "--method",
        default="insight",
        choices=["insight", "tpe", "random", "agent"],
        help="what chooses the plan",
    )
    plan.add_argument(
        "--seeds", type=flags.count, default=10, help="seeds per method in the comparison"
    )
    plan.add_argument(
        "--trials", type=flags.count, default=200, help="plans measured per search at most"
    )
    plan.add_argument(
        "--held-out", type=flags.share, default=0.3, help="share of questions held out"
    )
    plan.add_argument(
        "--repeats", type=flags.count, default=8, help="orderings per question (replay)"
    )
    plan.add_argument("--parameters", type=json.loads, default={},
                      help='parameter counts by model, JSON ({"name": 8.2e9}); replay '
                      "directories named like Qwen3-8B are read from the name")  # fmt: skip
    plan.add_argument("--out", type=Path, help="plan file (default: plans/WORKFLOW.json)")
    plan.add_argument("--report", type=Path, help="report stem (default: reports/plan-WORKFLOW)")
    plan.add_argument("--no-sweep", dest="sweep", action="store_false",
                      help="skip the budget sweep in the report")  # fmt: skip
    _agent_flags(plan)
    plan.add_argument("--agent-iterations", type=flags.count, default=5, help="agent rounds")
    plan.add_argument(
        "--agent-candidates", type=flags.count, default=10, help="plans per agent round"
    )
    plan.set_defaults(func=_plan)


def _plan(args: argparse.Namespace) -> int:
    from tts_proxy.workflows.data import load_environment
    from tts_proxy.workflows.environment import Table
    from tts_proxy.workflows.grids import budget_at
    from tts_proxy.workflows.plan import write_plan
    from tts_proxy.workflows.planner import plan_workflow
    from tts_proxy.workflows.report import write_report

    _say(f"reading {args.data}")
    env = load_environment(args.data, workflow=args.workflow, parameters=args.parameters,
                           repeats=args.repeats, traces=args.traces)  # fmt: skip
    table = Table(env)
    budget = args.flops_budget or budget_at(env, args.budget_share)
    methods = _plan_methods(args)
    if args.method not in methods:
        print("tts-proxy: --method agent needs --agent-base-url", file=sys.stderr)
        return 2
    _say(f"{table.size()} plans over stages {', '.join(table.stages)}; budget {budget:.4g} "
         f"FLOPs per run; comparing {', '.join(methods)} over {args.seeds} seeds")  # fmt: skip
    plan, report = plan_workflow(table, budget, methods, method=args.method, seeds=args.seeds,
                                 max_trials=args.trials, held_out=args.held_out,
                                 sweep=args.sweep)  # fmt: skip
    stem = args.report or Path("reports") / f"plan-{args.workflow}"
    json_path, png_path = write_report(stem, report)
    summary: dict[str, Any] = {"report": str(json_path), "plot": str(png_path),
                               "budget": budget, "optimum_score": report.optimum_score}  # fmt: skip
    if plan is not None:
        out = args.out or Path("plans") / f"{args.workflow}.json"
        write_plan(out, plan)
        summary |= {"plan": str(out), "stages": plan.describe(),
                    "score": plan.expected_score, "flops": plan.expected_flops}  # fmt: skip
    summary["median_trials_to_within_1pct"] = {
        m.method: m.median_to_within_1pct for m in report.methods
    }
    print(json.dumps(summary))
    return 0 if plan is not None else 1


def _plan_methods(args: argparse.Namespace) -> dict[str, Any]:
    from tts_proxy.workflows.search import METHODS

    methods: dict[str, Any] = dict(METHODS)
    if args.agent_base_url:
        import openai

        from tts_proxy.workflows.agent import AgentSearch

        client = openai.OpenAI(base_url=args.agent_base_url, api_key=args.agent_api_key,
                               max_retries=1)  # fmt: skip

        def agent() -> AgentSearch:
            return AgentSearch(client, args.agent_model, iterations=args.agent_iterations,
                               candidates=args.agent_candidates)  # fmt: skip

        methods["agent"] = agent
    return methods


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except TTSProxyError as exc:
        print(f"tts-proxy: {exc.message}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
