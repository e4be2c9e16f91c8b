"""The discovery run: propose -> gate -> measure -> select -> render -> report.

Each round, every proposer (``proposers``: parameter search over every family's schedule,
starting from fixed anchors; an agent when an endpoint is given) adds candidates measured on
the search set and valued by the one objective (``objective``) against the built-ins. Every
record goes to a typed history (``history``), so a stopped run resumes. Then ``shipping``
measures the finalists again on fresh orderings, selects the chain of highest objective --
without a look at the held-out set -- renders it as ``out/<name>.json``, and reports it on the
held-out set next to every built-in.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from tqdm import tqdm

from tts_proxy.controllers.sandbox import Limits as SandboxLimits
from tts_proxy.discovery import families, objective, shipping, trials, workers
from tts_proxy.discovery.agent import AgentProposer
from tts_proxy.discovery.curves import REPORT_BETAS, SEARCH_BETAS, Curve
from tts_proxy.discovery.environments import Split
from tts_proxy.discovery.history import History, HistoryError, Reference, Setup
from tts_proxy.discovery.proposers import (
    AgentBrief,
    LearnedRule,
    ParameterSearch,
    Proposer,
    Round,
)

log = logging.getLogger("tts_proxy.discovery")

BUILTINS = objective.BUILTINS


@dataclass
class DiscoverOptions:
    out: Path
    reports: Path = Path("reports")
    name: str = "discovered"
    rounds: int = 8
    trials: int = 4  # parameter-search candidates per round
    finalists: int = 5  # best candidates measured again on every report beta before shipping
    stitch: bool = True  # ship the objective's chain (else the best single candidate)
    repeats: int = 4  # orderings per point while searching
    final_repeats: int = 16  # fresh orderings per point for finalists and the chain
    report_repeats: int = 16  # orderings per point in the held-out report
    seed: int = 0
    width: int = 64
    families: tuple[str, ...] = families.FAMILIES  # searched by the parameter search
    learned: bool = True  # fit the learned stopping rule on the search set and propose it
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
        return self.shipping().final_seed

    def shipping(self) -> shipping.Shipping:
        return shipping.Shipping(
            name=self.name, out=self.out, reports=self.reports, width=self.width,
            seed=self.seed, finalists=self.finalists, final_repeats=self.final_repeats,
            report_repeats=self.report_repeats, stitch=self.stitch, sandbox=self.sandbox,
        )  # fmt: skip


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
        self._started = clock()

    def setup(self) -> Setup:
        o = self.options
        # Resolved paths: the same data named by another relative path is the same setup.
        search = [{"path": str(e.path.resolve()), "indices": list(e.indices)}
                  for e in self.split.search]  # fmt: skip
        return Setup(search=search, betas=list(SEARCH_BETAS), repeats=o.repeats, seed=o.seed,
                     width=o.width, families=list(o.families))  # fmt: skip

    def run(self) -> dict[str, Any]:
        """Search, then ship the winner and its report; returns the report."""
        o = self.options
        history = History(o.history_path, self.setup())
        trials.open_storage(trials.storage_url(o.storage, o.reports, o.name))  # fail at start
        with closing(workers.measurer(o.workers)) as measurer:
            refs = self.references(history, measurer)
            self._search(history, refs, measurer)
            log.info("discovery: shipping (finalists and built-ins measured on fresh orderings)")
            return self.ship(history, measurer)

    def _search(self, history: History, refs: dict[str, Curve], measurer: workers.Measurer) -> None:
        o = self.options
        proposers = self._proposers(history, measurer)
        try:
            for number in tqdm(range(history.rounds_done, o.rounds),
                               desc="discover: search rounds", unit="round"):  # fmt: skip
                for proposer in proposers:
                    if not self._out_of_time():
                        proposer.propose(Round(number, refs, self._deadline()))
                if self._out_of_time():
                    log.info("discovery: time budget spent after round %d", number)
                    break
        finally:
            for proposer in proposers:
                proposer.close()

    def ship(self, history: History, measurer: workers.Measurer) -> dict[str, Any]:
        """Measure the finalists again, choose, render, report."""
        s = self.options.shipping()
        refs = self.references(history, measurer, final=True)
        finals = shipping.measure_finalists(history, self.split, s, refs, measurer)
        if not finals:
            raise ValueError("no candidate was accepted; see the history file for reasons")
        choice = shipping.choose(history, finals, refs, s)
        chunk = self.split.search[0].questions[0].chunk_tokens  # the recording's probe spacing
        path = shipping.render(choice, history, self.split, s, chunk)
        model = None if self.agent is None else self.agent.model
        return shipping.report(path, choice, history, self.split, s, finals, model, measurer)

    def references(
        self, history: History, measurer: workers.Measurer, *, final: bool = False
    ) -> dict[str, Curve]:
        """Every built-in's curve on the search set at every report beta: on the search's
        orderings, to value candidates, or (``final``) on the finalists' many fresh ones.

        The search's are measured on every run (a minute on the AIME24 pair) and must equal
        the history's: a history written by other code -- a built-in or the replay changed
        since -- would mix stale values with fresh ones, so it is refused. The final ones,
        four times dearer, are measured once and then read from the history."""
        o = self.options
        repeats, seed = (o.final_repeats, o.final_seed) if final else (o.repeats, o.seed)
        recorded = {name: history.reference(name, final=final, repeats=repeats)
                    for name in BUILTINS}  # fmt: skip
        todo = [name for name, r in recorded.items() if not (final and r is not None)]
        tasks = [workers.Task(partial(workers.builtin, name), self.split.search, REPORT_BETAS,
                              repeats, seed, o.width) for name in todo]  # fmt: skip
        measured = dict(zip(todo, measurer.curves(tasks), strict=True))
        refs: dict[str, Curve] = {}
        for name in BUILTINS:
            done, curve = recorded[name], measured.get(name)
            if curve is None:
                assert done is not None
                refs[name] = done.curve
                continue
            if done is None:
                history.add(Reference(name=name, final=final, repeats=repeats, curve=curve))
            elif done.curve.to_json() != curve.to_json():
                raise HistoryError(
                    f"{history.path} was measured by other code: built-in {name!r} now "
                    "scores differently on the same data; give --history a new file"
                )
            refs[name] = curve
        return refs

    def _proposers(self, history: History, measurer: workers.Measurer) -> list[Proposer]:
        o = self.options
        url = trials.storage_url(o.storage, o.reports, o.name)
        study = trials.study_name(o.name, self.setup().model_dump(by_alias=True))
        search: list[Proposer] = [ParameterSearch(
            history, self.split.search, url=url, study=study, seed=o.seed, repeats=o.repeats,
            width=o.width, trials_per_round=o.trials, families=o.families,
            pool=measurer if isinstance(measurer, workers.Processes) else 1,
            anchors=[a for a in ANCHORS if a["family"] in o.families],
        )]  # fmt: skip
        if o.learned:
            search.append(LearnedRule(history, self.split.search, seed=o.seed, width=o.width,
                                      repeats=o.repeats, betas=SEARCH_BETAS))  # fmt: skip
        if self.agent is None:
            return search
        brief = AgentBrief(
            self.agent, history, self.split.search, folder=o.candidates_dir, seed=o.seed,
            repeats=o.repeats, width=o.width, betas=SEARCH_BETAS, sandbox=o.sandbox,
        )  # fmt: skip
        return [*search, brief]

    def _elapsed(self) -> float:
        return self.clock() - self._started

    def _deadline(self) -> float | None:
        budget = self.options.budget_minutes
        return None if budget is None else time.time() + budget * 60 - self._elapsed()

    def _out_of_time(self) -> bool:
        budget = self.options.budget_minutes
        return budget is not None and self._elapsed() > budget * 60


def _full_sweep_params() -> dict[str, Any]:
    """One probed branch that stops on two agreeing probes at beta 0, up to a wide, patient
    search at beta 1: a start that spans every built-in's budgets."""
    settings = {
        "initial_width": (1.0, 0.6), "max_width": (1.0, 1.0), "widen_by": (1.0, 0.5),
        "tau": (0.5, 0.9), "min_pool": (1.0, 0.6), "alpha": (0.9, 0.5), "window": (1.0, 0.5),
        "slack": (0.04, 0.75), "warmup": (1.0, 0.6), "abandon_patience": (3.0, 0.3),
        "lag": (1.0, 0.0), "stable_probes": (2.0, 1.0),
    }  # fmt: skip
    params: dict[str, Any] = {
        "family": "cmc", "cmc.stall.lo": 0.04, "cmc.stable_probes.on": True,
        "cmc.geometric": True, "cmc.onset": 0.2, "cmc.until": 0.25,
    }  # fmt: skip
    for name, (lo, spread) in settings.items():
        params |= {f"cmc.{name}.lo": lo, f"cmc.{name}.spread": spread}
    return params


def _one_branch_params() -> dict[str, Any]:
    """One probed branch at every beta, answering when its last k probes agree, k from 2 to
    32: probe-and-exit at the cheap end, close to one full sample (SC@1) at the dear one."""
    fixed = ("initial_width", "max_width", "widen_by", "tau", "min_pool", "alpha", "window",
             "slack", "warmup", "abandon_patience")  # fmt: skip
    return _full_sweep_params() | {f"cmc.{name}.spread": 0.0 for name in fixed} | {
        "cmc.onset": 0.0, "cmc.until": 1.0,
    }  # fmt: skip


# Starting points of every search, measured at every report beta before shipping: together
# they span the built-ins' budgets.
ANCHORS = (families.builtin_params("cmc"), _full_sweep_params(), _one_branch_params())
