"""Where candidates come from: one ``Proposer`` protocol for parameter search and the agent.

A proposer turns one round into candidates measured on the search set, each valued by the one
objective (``objective.gain``) against the built-ins' curves, and recorded in the history. The
parameter search runs optuna trials over every family's schedule (``families``), starting from
the anchors, in the run's worker processes on a shared storage (``trials``); the agent is briefed
as in the AutoTTS paper -- the controller interface, the best candidates with their curves,
execution traces of the best one's failures, the gate's reasons for rejections -- and its file
passes the gate and is measured in the OS sandbox only (``controllers.gate``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import optuna

from tts_proxy.controllers import ControllerRegistry
from tts_proxy.controllers.base import Controller
from tts_proxy.controllers.gate import check_file
from tts_proxy.controllers.sandbox import Limits as SandboxLimits
from tts_proxy.discovery import families, learning, objective, trials, workers
from tts_proxy.discovery.agent import AgentContext, AgentError, AgentProposer
from tts_proxy.discovery.agent import Candidate as Shown
from tts_proxy.discovery.curves import Curve, failure_traces, measure
from tts_proxy.discovery.environments import Environment
from tts_proxy.discovery.history import Candidate, History

log = logging.getLogger("tts_proxy.discovery")


@dataclass(frozen=True, slots=True)
class Round:
    """What a proposer is given for one round."""

    number: int
    references: dict[str, Curve]  # the built-ins' curves on the search set
    deadline: float | None  # time.time() after which nothing new is started


class Proposer(Protocol):
    """Proposes candidates for one round, measures them on the search set, records them."""

    def propose(self, round_: Round) -> list[Candidate]: ...

    def close(self) -> None:
        """Let go of what it holds (worker processes) once the search is over."""


def evaluation(
    envs: Sequence[Environment], betas: Sequence[float], repeats: int, seed: int, width: int
) -> dict[str, Any]:
    """A curve measurement for the sandbox (``sandbox.run``'s ``evaluate`` task)."""
    return {
        "environments": [{"path": str(e.path.resolve()), "indices": list(e.indices)}
                         for e in envs],
        "betas": list(betas), "repeats": repeats, "seed": seed, "width": width,
    }  # fmt: skip


def class_of(c: Candidate) -> type[Controller] | None:
    """A data candidate's controller class (agent code runs only inside the sandbox: None)."""
    if c.params is None:
        return None
    rule = c.rule.rule() if c.rule is not None else None
    return families.controller_class(f"candidate_{c.id}", c.params, rule)


class LearnedRule:
    """The learned stopping rule, fitted once on the search set and proposed at the learned
    family's own ramps (``controllers.learned``, ``learning``)."""

    def __init__(
        self, history: History, search: Sequence[Environment], *, seed: int, repeats: int,
        width: int, betas: Sequence[float],
    ) -> None:  # fmt: skip
        self.history, self.search = history, search
        self.seed, self.repeats, self.width, self.betas = seed, repeats, width, betas

    def close(self) -> None:
        return None

    def propose(self, round_: Round) -> list[Candidate]:
        if any(c.proposer == "learned" for c in self.history.candidates):
            return []
        start = time.perf_counter()
        rule = learning.fit(self.search, repeats=self.repeats, seed=self.seed, width=self.width)
        params = families.builtin_params("learned")
        cls = families.controller_class("learned_fit", params, rule)
        curve = measure(cls, self.search, self.betas, repeats=self.repeats, seed=self.seed,
                        width=self.width)  # fmt: skip
        c = Candidate(
            id=self.history.next_id, round=round_.number, proposer="learned", status="ok",
            params=params, rule=learning.rule_spec(rule), curve=curve,
            value=objective.gain(curve, round_.references),
            seconds=round(time.perf_counter() - start, 2),
        )  # fmt: skip
        self.history.add(c)
        log.info("discovery: learned rule fitted (candidate %d) adds %.3f", c.id, c.value)
        return [c]


class ParameterSearch:
    """Optuna TPE over every family's schedule, trials kept in a shared storage."""

    def __init__(
        self,
        history: History,
        search: Sequence[Environment],
        *,
        url: str,
        study: str,
        seed: int,
        repeats: int,
        width: int,
        trials_per_round: int,
        pool: int | workers.Processes,
        families: tuple[str, ...],
        anchors: Sequence[dict[str, Any]],
    ) -> None:
        self.history = history
        self.search = search
        self.url, self.study_name, self.seed = url, study, seed
        self.repeats, self.width = repeats, width
        self.trials, self.pool, self.families = trials_per_round, pool, families
        self.anchors = [trials.params_key(a) for a in anchors]
        self.study = trials.open_study(url, study, seed)
        self._seed_study(anchors)

    def _seed_study(self, anchors: Sequence[dict[str, Any]]) -> None:
        """Trials the history holds that the storage lacks are added back; anchors no one has
        tried are queued first."""
        stored = {
            trials.params_key(t.params or t.system_attrs.get("fixed_params", {}))
            for t in self.study.get_trials(deepcopy=False)
        }  # queued: not yet run
        past = [c for c in self.history.candidates
                if c.proposer in ("tpe", "anchor") and c.params is not None]  # fmt: skip
        for c in past:
            assert c.params is not None
            if c.ok and trials.params_key(c.params) not in stored:
                dists = families.distributions(str(c.params["family"]), self.families)
                self.study.add_trial(optuna.trial.create_trial(
                    params=c.params, distributions=dists, value=c.value,
                    user_attrs={"candidate": c.id},
                ))  # fmt: skip
        tried = stored | {trials.params_key(c.params) for c in past if c.params is not None}
        for params in anchors:
            if trials.params_key(params) not in tried:
                self.study.enqueue_trial(params)

    def propose(self, round_: Round) -> list[Candidate]:
        job = trials.Job(
            url=self.url, study=self.study_name, seed=self.seed,
            sampler_seed=self.seed + round_.number * 1000,
            environments=tuple((str(e.path), e.indices) for e in self.search),
            references={name: c.to_json() for name, c in round_.references.items()},
            repeats=self.repeats, width=self.width, trials=self.trials, round=round_.number,
            deadline=round_.deadline, families=self.families,
        )  # fmt: skip
        trials.run_round(job, self.pool, self.search)
        return self._import()

    def close(self) -> None:
        return None  # the pool is the run's

    def _import(self) -> list[Candidate]:
        """Every finished trial in the storage -- this run's, another worker's or another
        machine's -- not yet in the history."""
        known = {c.trial for c in self.history.candidates}
        done = self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        new = []
        for t in sorted(done, key=lambda t: t.number):
            if t.number in known or "candidate" in t.user_attrs:
                continue
            anchor = trials.params_key(t.params) in self.anchors
            c = Candidate(
                id=self.history.next_id, round=t.user_attrs.get("round", 0),
                proposer="anchor" if anchor else "tpe", status="ok", params=t.params,
                curve=Curve.from_json(t.user_attrs["curve"]), value=t.value, trial=t.number,
                seconds=t.user_attrs.get("seconds"),
            )  # fmt: skip
            self.history.add(c)
            new.append(c)
            log.info("discovery: %s candidate %d (trial %d) adds %.3f", c.proposer, c.id,
                     t.number, t.value)  # fmt: skip
        return new


class AgentBrief:
    """One agent-written file per round, briefed on the best so far, gated and measured in
    the sandbox."""

    def __init__(
        self,
        agent: AgentProposer,
        history: History,
        search: Sequence[Environment],
        *,
        folder: Path,
        seed: int,
        repeats: int,
        width: int,
        betas: Sequence[float],
        sandbox: SandboxLimits,
    ) -> None:
        self.agent, self.history, self.search = agent, history, search
        self.folder, self.seed, self.repeats, self.width = folder, seed, repeats, width
        self.betas, self.sandbox = betas, sandbox
        self.builtins = ControllerRegistry()

    def close(self) -> None:
        return None

    def _context(self, round_: Round, name: str) -> AgentContext:
        ranked = self.history.ranked()
        best = [Shown(f"candidate_{c.id}", _source_of(c), c.curve, round(c.value or 0.0, 3))
                for c in ranked[:2]]  # fmt: skip
        failures: list[dict[str, Any]] = []
        for c in ranked[:2]:  # agent files run only in the sandbox: no traces of theirs here
            cls = class_of(c)
            if cls is not None:
                traces = failure_traces(cls, self.search[0], 0.5, limit=2, seed=self.seed,
                                        width=self.width)  # fmt: skip
                failures += [{"candidate": f"candidate_{c.id}"} | t for t in traces]
        rejections = [f"{c.id}: {c.reason}" for c in self.history.candidates
                      if c.proposer == "agent" and c.status != "ok"]  # fmt: skip
        return AgentContext(best, round_.references, failures, rejections, name=name)

    def propose(self, round_: Round) -> list[Candidate]:
        start = time.perf_counter()
        cid = self.history.next_id
        fields: dict[str, Any] = {"id": cid, "round": round_.number, "proposer": "agent"}
        try:
            source = self.agent.propose(self._context(round_, f"agent_{cid}"))
        except AgentError as exc:
            fields |= {"status": "failed", "reason": str(exc)}
        else:
            fields |= {"source": source} | self._gate(source, cid, round_.references)
        c = Candidate(**fields, seconds=round(time.perf_counter() - start, 2))
        self.history.add(c)
        log.info("discovery: agent candidate %d: %s", cid, c.reason or "accepted")
        return [c]

    def _gate(self, source: str, cid: int, refs: dict[str, Curve]) -> dict[str, Any]:
        path = self.folder / f"agent_{cid}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
        task = evaluation(self.search, self.betas, self.repeats, self.seed, self.width)
        result = check_file(path, data=[self.search[0].path], evaluate=task, limits=self.sandbox)
        name = result.report.get("controller")
        if result.ok and name in self.builtins:
            return {"path": str(path), "status": "rejected",
                    "reason": f"name {name!r} is taken by a built-in"}  # fmt: skip
        if not result.ok:
            return {"path": str(path), "status": "rejected", "reason": result.reason}
        curve = Curve.from_json(result.report["curve"])
        return {"path": str(path), "status": "ok", "controller": name, "curve": curve,
                "value": objective.gain(curve, refs)}  # fmt: skip


def _source_of(c: Candidate) -> str:
    """What the agent is shown of a candidate: a search point as its document, or the file."""
    if c.params is not None:
        doc = families.document(f"candidate_{c.id}", c.params, "A search point.")
        return doc.model_dump_json(by_alias=True, indent=1)
    return c.source or ""
