"""The discovery loop: propose, gate, evaluate, remember; then ship the winner with a report.

Each round runs ``trials`` parameter-search candidates (optuna TPE over CMC's ramps, starting
from fixed anchors: the built-in CMC's settings, one probed branch of growing patience, and a
sweep from one probed branch to full width) and, when an agent endpoint is given, one
agent-written file. Every candidate, with its curve on the search set and its score against
the built-ins there, is one line of the history file; a run that is stopped picks up from it.
The best few and the anchors are measured again on the search set at every report beta, on
many orderings the search never used, and so are the built-ins; the frontier of those points
(``stitch``) -- or the best candidate, when it holds the whole frontier -- chosen without a
look at the held-out set, is written to ``out/<name>.py``, gated once more, measured on the
held-out set next to every built-in, and reported in ``reports/<name>.json`` and ``.png``.
"""

from __future__ import annotations

import datetime
import json
import logging
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import optuna
from tqdm import tqdm

from tts_proxy.controllers import ControllerRegistry
from tts_proxy.controllers.base import Controller
from tts_proxy.controllers.cmc import SPEND, ConfidenceMomentum
from tts_proxy.controllers.document import Calibration, build, write_document
from tts_proxy.controllers.gate import check_file
from tts_proxy.controllers.sandbox import Limits as SandboxLimits
from tts_proxy.discovery import families, stitch, trials
from tts_proxy.discovery.agent import AgentContext, AgentError, AgentProposer, Candidate
from tts_proxy.discovery.curves import (
    REPORT_BETAS,
    SEARCH_BETAS,
    Curve,
    compare,
    failure_traces,
    measure,
    score,
)
from tts_proxy.discovery.environments import Environment, Split
from tts_proxy.discovery.report import comparison, plot, write_report

log = logging.getLogger("tts_proxy.discovery")

BUILTINS = ("sc", "asc", "esc", "probe_exit", "parallel_probe", "cmc")


@dataclass
class DiscoverOptions:
    out: Path
    reports: Path = Path("reports")
    name: str = "discovered"
    rounds: int = 8
    trials: int = 4  # parameter-search candidates per round
    finalists: int = 5  # best candidates measured again on every report beta before shipping
    stitch: bool = True  # ship the frontier of candidates and built-ins when it scores higher
    repeats: int = 4  # orderings per point while searching
    final_repeats: int = 16  # fresh orderings per point for finalists, stitching, shipping
    report_repeats: int = 16  # orderings per point in the held-out report
    seed: int = 0
    width: int = 64
    budget_minutes: float | None = None
    history: Path | None = None
    storage: str | None = None  # Optuna storage URL (default: a SQLite file beside the reports)
    workers: int = 1  # processes running parameter-search trials on that storage
    sandbox: SandboxLimits = field(
        default_factory=lambda: SandboxLimits(3 << 30, cpu_seconds=600, wall_seconds=900)
    )

    @property
    def history_path(self) -> Path:
        return self.history or self.reports / f"{self.name}.history.jsonl"

    @property
    def candidates_dir(self) -> Path:
        return self.reports / f"{self.name}.candidates"

    @property
    def final_seed(self) -> int:
        """Finalists are measured on orderings the search never saw: a candidate that ranked
        high on lucky draws does not take its luck along."""
        return self.seed + 1


def _environments_json(envs: tuple[Environment, ...]) -> list[dict[str, Any]]:
    # Resolved: the same data named by another relative path is the same setup.
    return [{"path": str(e.path.resolve()), "indices": list(e.indices)} for e in envs]


class Discovery:
    """One discovery run over a search/held-out split."""

    def __init__(
        self,
        split: Split,
        options: DiscoverOptions,
        agent: AgentProposer | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.split = split
        self.options = options
        self.agent = agent
        self.clock = clock
        self.history: list[dict[str, Any]] = []
        self.registry = ControllerRegistry()
        self._started = clock()

    # -- history ---------------------------------------------------------------------------

    def _setup(self) -> dict[str, Any]:
        o = self.options
        return {
            "kind": "setup",
            "search": _environments_json(self.split.search),
            "betas": list(SEARCH_BETAS),
            "repeats": o.repeats,
            "seed": o.seed,
            "width": o.width,
        }

    def _load_history(self) -> None:
        path = self.options.history_path
        if not path.exists():
            return
        for line in path.read_text().splitlines():
            try:
                self.history.append(json.loads(line))
            except ValueError:
                continue  # a torn last line from a stopped run
        setup = next((h for h in self.history if h.get("kind") == "setup"), None)
        if setup is not None and setup != self._setup():
            raise ValueError(
                f"{path} was written for other data or settings; give --history a new file"
            )

    def _remember(self, entry: dict[str, Any]) -> None:
        self.history.append(entry)
        path = self.options.history_path
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as f:
            f.write(json.dumps(entry) + "\n")

    def _candidates(self) -> list[dict[str, Any]]:
        return [h for h in self.history if h.get("kind") == "candidate"]

    def _elapsed(self) -> float:
        return self.clock() - self._started

    def _out_of_time(self) -> bool:
        budget = self.options.budget_minutes
        return budget is not None and self._elapsed() > budget * 60

    # -- the loop --------------------------------------------------------------------------

    def references(self, *, final: bool = False) -> dict[str, Curve]:
        """Every built-in's curve on the search set at every report beta: on the search's
        orderings, to score candidates, or (``final``) on the finalists' many fresh ones, to
        stitch and to choose what ships.

        The search's are measured on every run (a minute on the AIME24 pair) and must equal
        the history's: a history written by other code -- a built-in or the replay changed
        since -- would mix stale scores with fresh ones, so it is refused. The final ones,
        four times dearer, are measured once and then read from history."""
        o = self.options
        repeats, seed = (o.final_repeats, o.final_seed) if final else (o.repeats, o.seed)
        kind = "final_reference" if final else "reference"
        recorded = {
            h["name"]: h["curve"]
            for h in self.history
            if h.get("kind") == kind and h.get("repeats", repeats) == repeats
        }
        refs: dict[str, Curve] = {}
        for name in BUILTINS:
            if final and name in recorded:
                refs[name] = Curve.from_json(recorded[name])
                continue
            curve = measure(self.registry.get(name), self.split.search, REPORT_BETAS,
                            repeats=repeats, seed=seed, width=o.width)  # fmt: skip
            if name not in recorded:
                entry = {"kind": kind, "name": name, "repeats": repeats, "curve": curve.to_json()}
                self._remember(entry)
            elif recorded[name] != curve.to_json():
                raise ValueError(
                    f"{o.history_path} was measured by other code: built-in {name!r} now "
                    "scores differently on the same data; give --history a new file"
                )
            refs[name] = curve
        return refs

    def run(self) -> dict[str, Any]:
        """Search, then ship the winner and its report; returns the report."""
        self._load_history()
        if not any(h.get("kind") == "setup" for h in self.history):
            self._remember(self._setup())
        refs = self.references()
        study = self._study()
        done_rounds = max((c["round"] for c in self._candidates()), default=-1) + 1
        rounds = range(done_rounds, self.options.rounds)
        for round_ in tqdm(rounds, desc="discover: search rounds", unit="round"):
            if not self._out_of_time():
                self._search_round(study, refs, round_)
            if self.agent is not None and not self._out_of_time():
                self._agent_proposal(refs, round_)
            if self._out_of_time():
                log.info("discovery: time budget spent after round %d", round_)
                break
        log.info("discovery: shipping (finalists and built-ins measured on fresh orderings)")
        return self._ship()

    def _study(self) -> optuna.Study:
        """The shared study (``trials``): trials a history holds that its storage lacks are
        added, and the anchors no one has tried are queued first."""
        o = self.options
        url = trials.storage_url(o.storage, o.reports, o.name)
        study = trials.open_study(url, trials.study_name(o.name, self._setup()), o.seed)
        stored = {trials.params_key(t.params) for t in study.get_trials(deepcopy=False)}
        dists = families.distributions()
        past = [c for c in self._candidates() if c["proposer"] == "tpe"]
        for c in past:
            if c["status"] == "ok" and trials.params_key(c["params"]) not in stored:
                study.add_trial(optuna.trial.create_trial(
                    params=c["params"], distributions=dists, value=c["score"],
                    user_attrs={"candidate": c["id"]},
                ))  # fmt: skip
        tried = stored | {trials.params_key(c["params"]) for c in past}
        for params in ANCHORS:
            if trials.params_key(params) not in tried:
                study.enqueue_trial(params)
        return study

    def _search_round(self, study: optuna.Study, refs: dict[str, Curve], round_: int) -> None:
        """One round's trials (over ``workers`` processes), then every finished trial in the
        storage -- this run's, another worker's or machine's -- into the history."""
        o = self.options
        budget = o.budget_minutes
        deadline = None if budget is None else time.time() + budget * 60 - self._elapsed()
        job = trials.Job(
            url=trials.storage_url(o.storage, o.reports, o.name),
            study=study.study_name, seed=o.seed, sampler_seed=o.seed + round_ * 1000,
            environments=tuple((str(e.path), e.indices) for e in self.split.search),
            references={name: c.to_json() for name, c in refs.items()},
            repeats=o.repeats, width=o.width, trials=o.trials, round=round_, deadline=deadline,
        )  # fmt: skip
        trials.run_round(job, o.workers, self.split.search)
        self._import(study)

    def _import(self, study: optuna.Study) -> None:
        known = {c.get("trial") for c in self._candidates()}
        done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        for t in sorted(done, key=lambda t: t.number):
            if t.number in known or "candidate" in t.user_attrs:
                continue
            cid = len(self._candidates())
            self._remember({
                "kind": "candidate", "id": cid, "round": t.user_attrs.get("round", 0),
                "proposer": "tpe", "params": t.params, "status": "ok",
                "curve": t.user_attrs["curve"], "score": t.value, "trial": t.number,
                "seconds": t.user_attrs.get("seconds"),
            })  # fmt: skip
            log.info("discovery: tpe candidate %d (trial %d) scored %.3f", cid, t.number, t.value)

    def _anchors(self) -> list[dict[str, Any]]:
        return [c for c in self._candidates() if c["proposer"] == "tpe" and c["params"] in ANCHORS]

    def _source_of(self, c: dict[str, Any]) -> str:
        if c["proposer"] == "tpe":
            doc = families.document(f"candidate_{c['id']}", c["params"], "A search point.")
            return doc.model_dump_json(by_alias=True, indent=1)
        return str(c.get("source", ""))

    def _chunk_tokens(self) -> int:
        """The chunk the search set was recorded at (its replay's probe spacing)."""
        return self.split.search[0].questions[0].chunk_tokens

    def _agent_proposal(self, refs: dict[str, Curve], round_: int) -> None:
        assert self.agent is not None
        start = time.perf_counter()
        ranked = self._ranked()
        best = [
            Candidate(
                f"candidate_{c['id']}",
                self._source_of(c),
                Curve.from_json(c["curve"]),
                round(c["score"], 3),
            )
            for c in ranked[:2]
        ]
        failures: list[dict[str, Any]] = []
        if ranked:
            cls = self._class_of(ranked[0])
            if cls is not None:
                failures = failure_traces(
                    cls,
                    self.split.search[0],
                    0.5,
                    limit=2,
                    seed=self.options.seed,
                    width=self.options.width,
                )
        rejections = [
            f"{c['id']}: {c['reason']}"
            for c in self._candidates()
            if c["proposer"] == "agent" and c["status"] != "ok"
        ]
        cid = len(self._candidates())
        entry: dict[str, Any] = {
            "kind": "candidate",
            "id": cid,
            "round": round_,
            "proposer": "agent",
        }
        context = AgentContext(best, refs, failures, rejections, name=f"agent_{cid}")
        try:
            source = self.agent.propose(context)
        except AgentError as exc:
            entry |= {"status": "failed", "reason": str(exc)}
        else:
            path = self.options.candidates_dir / f"agent_{cid}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(source)
            entry |= {"source": source, "path": str(path)}
            result = check_file(
                path,
                data=[self.split.search[0].path],
                evaluate=self._evaluation(self.split.search, SEARCH_BETAS, self.options.repeats),
                limits=self.options.sandbox,
            )
            name = result.report.get("controller")
            if result.ok and name in self.registry:
                result.ok, result.reasons = False, [f"name {name!r} is taken by a built-in"]
            if result.ok:
                curve = Curve.from_json(result.report["curve"])
                entry |= {
                    "status": "ok",
                    "controller": name,
                    "curve": curve.to_json(),
                    "score": score(curve, refs),
                }
            else:
                entry |= {"status": "rejected", "reason": result.reason}
        entry["seconds"] = round(time.perf_counter() - start, 2)
        self._remember(entry)
        log.info("discovery: agent candidate %d: %s", cid, entry.get("reason") or "accepted")

    def _ranked(self) -> list[dict[str, Any]]:
        ok = [c for c in self._candidates() if c["status"] == "ok"]
        return sorted(ok, key=lambda c: -c["score"])

    def _class_of(self, c: dict[str, Any]) -> type[ConfidenceMomentum] | None:
        if c["proposer"] == "tpe":
            return families.controller_class(f"candidate_{c['id']}", c["params"])
        return None  # agent code runs only inside the sandbox

    # -- shipping --------------------------------------------------------------------------

    def _finalists(self, refs: dict[str, Curve]) -> list[dict[str, Any]]:
        """The best few by search score and the starting points, measured again on the search
        set at every report beta (the references' grid: a winner picked on seven betas may
        hide a hole between them), on ``final_repeats`` fresh orderings (a few orderings put
        built-ins' points two points apart that many put in the other order). Ranked by that
        score against ``refs`` measured the same way; remembered, so a resumed run does not
        measure again."""
        o = self.options
        done = {
            h["id"]: h
            for h in self.history
            if h.get("kind") == "final" and h.get("repeats") == o.final_repeats
        }
        finals = []
        best = self._ranked()[: o.finalists]
        anchors = [c for c in self._anchors() if c["status"] == "ok" and c not in best]
        for c in best + anchors:
            if c["id"] not in done:
                cls = self._class_of(c)
                if cls is None:  # agent code is measured only in the sandbox
                    task = self._evaluation(
                        self.split.search, REPORT_BETAS, o.final_repeats, o.final_seed
                    )
                    result = check_file(
                        Path(c["path"]),
                        data=[self.split.search[0].path],
                        evaluate=task,
                        limits=o.sandbox,
                    )
                    if not result.ok:
                        continue
                    curve = Curve.from_json(result.report["curve"])
                else:
                    curve = self._on_fresh_orderings(cls, REPORT_BETAS)
                entry = {"kind": "final", "id": c["id"], "repeats": o.final_repeats,
                         "curve": curve.to_json(), "score": score(curve, refs)}  # fmt: skip
                self._remember(entry)
                done[c["id"]] = entry
            finals.append(c | {"final_score": done[c["id"]]["score"]})
        return sorted(finals, key=lambda c: -c["final_score"])

    def _evaluation(
        self,
        envs: tuple[Environment, ...],
        betas: Sequence[float],
        repeats: int,
        seed: int | None = None,
    ) -> dict[str, Any]:
        """A curve measurement for the sandbox (``sandbox.run``'s ``evaluate`` task)."""
        o = self.options
        return {
            "environments": _environments_json(envs),
            "betas": list(betas),
            "repeats": repeats,
            "seed": o.seed if seed is None else seed,
            "width": o.width,
        }

    def _ship(self) -> dict[str, Any]:
        o = self.options
        refs = self.references(final=True)
        ranked = self._finalists(refs)
        if not ranked:
            raise ValueError("no candidate was accepted; see the history file for reasons")
        best = ranked[0]
        candidates = self._candidates()
        agent_tries = sum(1 for c in candidates if c["proposer"] == "agent")
        knots = self._knots(ranked, refs) if o.stitch else []
        controllers = self._controllers_of(knots)
        stitched_score = self._stitched_score(knots, controllers, refs)
        stitched = stitched_score is not None and stitched_score >= best["final_score"]
        header = self._header(best, len(candidates), agent_tries, knots if stitched else ())
        o.out.mkdir(parents=True, exist_ok=True)
        # A stitched controller is also measured at its knots, its natural operating points.
        betas = sorted(set(REPORT_BETAS) | set(stitch.positions(knots) if stitched else ()))
        calibrated = Calibration(max_branches=o.width, chunk_tokens=self._chunk_tokens())
        if stitched or best["proposer"] == "tpe":
            if stitched:
                doc = stitch.document(o.name, knots, controllers, header, calibrated)
            else:
                doc = families.document(o.name, best["params"], header)
                doc = doc.model_copy(update={"calibrated": calibrated})
            path = o.out / f"{o.name}.json"
            write_document(path, doc)
            candidate = measure(build(doc.controller, o.name), self.split.held_out, betas,
                                repeats=o.report_repeats, seed=o.seed, width=o.width)  # fmt: skip
        else:  # an agent's file: code, so measured (and later served) only in the sandbox
            path = o.out / f"{o.name}.py"
            source = str(best["source"]).replace(repr(best["controller"]), repr(o.name))
            source = source.replace(f'"{best["controller"]}"', repr(o.name))
            path.write_text(f'"""{header}"""\n\n{source}')
            held_out = check_file(
                path,
                data=[self.split.search[0].path],
                evaluate=self._evaluation(self.split.held_out, betas, o.report_repeats),
                limits=o.sandbox,
            )
            if not held_out.ok:
                path.unlink()
                raise ValueError(f"the winner failed the gate when shipped: {held_out.reason}")
            candidate = Curve.from_json(held_out.report["curve"])
        builtins = {
            name: measure(
                self.registry.get(name),
                self.split.held_out,
                REPORT_BETAS,
                repeats=o.report_repeats,
                seed=o.seed,
                width=o.width,
            )
            for name in BUILTINS
        }
        verdict = comparison(compare(candidate, builtins))
        per_env = {}
        for env, pts in candidate.per_environment:
            env_curve = Curve(pts)
            env_refs = {n: Curve(dict(c.per_environment)[env]) for n, c in builtins.items()}
            per_env[env] = {
                k: v for k, v in comparison(compare(env_curve, env_refs)).items() if k != "gaps"
            }
        report = {
            "name": o.name,
            "file": str(path),
            "created": _now(),
            "data": self.split.describe(),
            "proposer": "stitched" if stitched else best["proposer"],
            "knots": [asdict(k) for k in knots] if stitched else [],
            "search": {
                "candidates": len(candidates),
                "accepted": sum(1 for c in candidates if c["status"] == "ok"),
                "agent_proposals": agent_tries,
                "agent": "none given: parameter search only"
                if self.agent is None
                else self.agent.model,
                "best_score": best["score"],
                "stitched_score": stitched_score,
                "finalists": [
                    {"id": c["id"], "score": c["score"], "dense_score": c["final_score"]}
                    for c in ranked
                ],
                "betas": list(SEARCH_BETAS),
                "repeats": o.repeats,
                "final_repeats": o.final_repeats,
                "history": str(o.history_path),
            },
            "held_out": {
                "betas": betas,
                "repeats": o.report_repeats,
                "candidate": candidate.to_json(),
                "builtins": {n: c.to_json() for n, c in builtins.items()},
                "comparison": verdict,
                "per_environment": per_env,
            },
        }
        write_report(o.reports / f"{o.name}.json", report)
        plot(o.reports / f"{o.name}.png", o.name, candidate, builtins)
        return report

    def _knots(self, finals: list[dict[str, Any]], refs: dict[str, Curve]) -> list[stitch.Knot]:
        """The search set's frontier over the built-ins' curves and the finalists' and
        starting points' dense curves. Only those: over every candidate's sparse, 4-ordering
        points the frontier would pick lucky draws of many candidates. Agent files are not
        stitched (their code runs only in the sandbox)."""
        dense = {h["id"]: h["curve"] for h in self.history if h.get("kind") == "final"}
        curves: dict[stitch.Source, Curve] = {name: curve for name, curve in refs.items()}
        for c in finals:
            if self._class_of(c) is not None:
                curves[c["id"]] = Curve.from_json(dense[c["id"]])
        knots = []
        for source, curve in curves.items():
            for i, p in enumerate(curve.points):
                costs = tuple(pts[i].tokens for _, pts in curve.per_environment)
                knots.append(stitch.Knot(source, p.beta, p.tokens, p.accuracy, costs))
        return stitch.frontier(knots)

    def _stitched_score(
        self,
        knots: Sequence[stitch.Knot],
        controllers: dict[stitch.Source, type[Controller]],
        refs: dict[str, Curve],
    ) -> float | None:
        """The stitched controller's score on the search set, measured at its knots (None:
        nothing to stitch -- one candidate's points only, or stitching is off)."""
        if not knots or (len({k.candidate for k in knots}) == 1 and not knots[0].builtin):
            return None
        o = self.options
        cls = stitch.controller_class(o.name, knots, controllers)
        return score(self._on_fresh_orderings(cls, stitch.positions(knots)), refs)

    def _on_fresh_orderings(self, cls: type[Controller], betas: Sequence[float]) -> Curve:
        """A curve on the search set, on the finalists' orderings (``final_seed``)."""
        o = self.options
        return measure(cls, self.split.search, betas, repeats=o.final_repeats,
                       seed=o.final_seed, width=o.width)  # fmt: skip

    def _by_id(self, cid: int) -> dict[str, Any]:
        return next(c for c in self._candidates() if c["id"] == cid)

    def _controllers_of(
        self, knots: Sequence[stitch.Knot]
    ) -> dict[stitch.Source, type[Controller]]:
        out: dict[stitch.Source, type[Controller]] = {}
        for k in knots:
            if isinstance(k.candidate, str):
                out[k.candidate] = self.registry.get(k.candidate)
            else:
                cls = self._class_of(self._by_id(k.candidate))
                assert cls is not None  # agent files are never knots
                out[k.candidate] = cls
        return out

    def _header(
        self,
        best: dict[str, Any],
        candidates: int,
        agent_tries: int,
        knots: Sequence[stitch.Knot] = (),
    ) -> str:
        search = ", ".join(e.name for e in self.split.search)
        held = ", ".join(e.name for e in self.split.held_out)
        pseudo = sum(e.pseudo_labels for e in (*self.split.search, *self.split.held_out))
        agent = "none" if self.agent is None else self.agent.model
        winner = (
            f"Winner: {best['proposer']} candidate {best['id']}, search score "
            f"{best['final_score']:.3f} on every report beta (accuracy points above the "
            "built-ins' curves)."
        )
        if knots:
            used = ", ".join(str(c) for c in dict.fromkeys(k.candidate for k in knots))
            winner = (
                f"Stitched: the search set's frontier of {len(knots)} operating points of "
                f"built-ins and candidates ({used}; cheapest first); the best single candidate "
                f"was {best['id']}."
            )
        paragraphs = [
            f"Discovered by `tts-proxy discover` on {_now()}.",
            f"Search set: {search}. Held out: {held}. Pseudo-labels: {pseudo}.",
            f"{candidates} candidates over {self.options.rounds} rounds; agent: {agent} "
            f"({agent_tries} proposals). {winner}",
            f"Held-out curve against every built-in: reports/{self.options.name}.json.",
        ]
        return "\n\n".join(textwrap.fill(p, width=96) for p in paragraphs) + "\n"


def _builtin_cmc_params() -> dict[str, Any]:
    """The built-in CMC as a point of the search space."""
    params: dict[str, Any] = {"stable_probes.on": False, "onset": 0.0, "stable_probes.until": 1.0}
    for name, axis in families.SPACE.items():
        ramp = ConfidenceMomentum.ramps[name]
        lo = min(max(ramp.lo, axis.lower), axis.upper) if name != "stable_probes" else axis.lower
        params[f"{name}.lo"] = lo
        if not axis.constant:
            room = (axis.upper - lo) if SPEND[name] >= 0 else (lo - axis.lower)
            change = abs(ramp.hi - ramp.lo)
            params[f"{name}.spread"] = min(1.0, change / room) if room > 0 else 0.0
    return params


def _full_sweep_params() -> dict[str, Any]:
    """One probed branch that stops on two agreeing probes at beta 0, up to a wide, patient
    search at beta 1: a start that spans every built-in's budgets."""
    return {
        "initial_width.lo": 1.0, "initial_width.spread": 0.6,
        "max_width.lo": 1.0, "max_width.spread": 1.0,
        "widen_by.lo": 1.0, "widen_by.spread": 0.5,
        "tau.lo": 0.5, "tau.spread": 0.7,
        "min_pool.lo": 1.0, "min_pool.spread": 0.6,
        "alpha.lo": 0.5, "stall.lo": 0.02,
        "abandon_patience.lo": 8.0, "abandon_patience.spread": 0.5,
        "lag.lo": 2.0,
        "stable_probes.lo": 2.0, "stable_probes.spread": 1.0, "stable_probes.on": True,
        "onset": 0.2, "stable_probes.until": 0.25,
    }  # fmt: skip


def _one_branch_params() -> dict[str, Any]:
    """One probed branch at every beta, answering when its last k probes agree, k from 2 to
    32: probe-and-exit at the cheap end, close to one full sample (SC@1) at the dear one."""
    fixed = ("initial_width", "max_width", "widen_by", "tau", "min_pool", "abandon_patience")
    return _full_sweep_params() | {f"{name}.spread": 0.0 for name in fixed} | {
        "lag.lo": 1.0, "onset": 0.0, "stable_probes.until": 1.0,
    }  # fmt: skip


# Starting points of every search, measured at every report beta before shipping: together
# they span the built-ins' budgets, so the stitched frontier starts from the built-ins' reach.
ANCHORS = (_builtin_cmc_params(), _full_sweep_params(), _one_branch_params())


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
