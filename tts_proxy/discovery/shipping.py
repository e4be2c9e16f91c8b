"""Choosing what ships, rendering it, and reporting it on the held-out set.

measure finalists again -> select the chain (``objective.select``: search points, the
learned rule and agents' files are knots alike) -> render it as a controller document (an
agent's file it runs is copied beside it, pinned by its SHA-256) -> measure it on the
held-out set next to every built-in, as the proxy would serve it -> report
(``reports/<name>.json``, ``.png``). Nothing here looks at the held-out set before the
controller is written.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import textwrap
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from tts_proxy.controllers import ControllerRegistry
from tts_proxy.controllers.base import Controller, Limits
from tts_proxy.controllers.document import Calibration, FileSpec, write_document
from tts_proxy.controllers.gate import check_file, check_source
from tts_proxy.controllers.remote import SandboxedFile, remote_class
from tts_proxy.controllers.sandbox import MEASURE_LIMITS
from tts_proxy.controllers.sandbox import Limits as SandboxLimits
from tts_proxy.discovery import families, objective, stitch
from tts_proxy.discovery.curves import REPORT_BETAS, Curve, compare
from tts_proxy.discovery.environments import Split
from tts_proxy.discovery.history import Candidate, History, Measurement
from tts_proxy.discovery.proposers import class_of, evaluation
from tts_proxy.discovery.report import comparison, plot, write_report
from tts_proxy.discovery.workers import Measurer, Task, builtin


@dataclass(frozen=True, slots=True)
class Shipping:
    """How a run ships: where, at what width, on how many orderings."""

    name: str
    out: Path
    reports: Path
    width: int
    seed: int
    finalists: int
    final_repeats: int
    report_repeats: int
    stitch: bool
    sandbox: SandboxLimits

    @property
    def final_seed(self) -> int:
        """Finalists are measured on orderings the search never saw: a candidate that ranked
        high on lucky draws does not take its luck along."""
        return self.seed + 1


@dataclass(frozen=True, slots=True)
class Choice:
    """What the objective chose: a chain of knots (or, without stitching, one finalist: an
    agent's file ships as itself), and the figures."""

    knots: tuple[objective.Knot, ...]
    agent: Candidate | None
    value: float
    builtins_value: float
    margin: float
    best: Candidate


def measure_finalists(
    history: History, split: Split, s: Shipping, refs: dict[str, Curve], measurer: Measurer
) -> list[Candidate]:
    """The best few by value, and the anchors and the learned rule that added anything,
    measured again on the search set at every report beta (a winner picked on seven betas may
    hide a hole between them) on fresh orderings; remembered, so a resumed run does not
    measure again. Best first. (An anchor that adds nothing, such as the built-in ``cmc`` as
    a point, is the built-in's own curve again.)"""
    best = history.ranked()[: s.finalists]
    always = [c for c in history.candidates
              if c.proposer in ("anchor", "learned") and c.ok and (c.value or 0.0) > 0]  # fmt: skip
    chosen = best + [a for a in always if a not in best]
    measured = history.measurements
    todo = {c.id for c in chosen
            if c.id not in measured or measured[c.id].repeats != s.final_repeats}  # fmt: skip
    data = [c for c in chosen if c.id in todo and c.is_data]
    tasks = [Task(partial(data_class, c.model_copy(update={"curve": None})), split.search,
                  REPORT_BETAS, s.final_repeats, s.final_seed, s.width) for c in data]  # fmt: skip
    dense = dict(zip((c.id for c in data), measurer.curves(tasks), strict=True))
    finals = []
    for c in chosen:
        if c.id in todo:
            curve = dense[c.id] if c.is_data else _sandboxed_curve(c, split, s)
            if curve is None:
                continue  # an agent file that no longer passes the gate
            history.add(Measurement(id=c.id, repeats=s.final_repeats, curve=curve,
                                    value=objective.gain(curve, refs)))  # fmt: skip
        finals.append(c)
    return sorted(finals, key=lambda c: -history.measurements[c.id].value)


def data_class(c: Candidate) -> type[Controller]:
    """A data candidate's controller class (``Task.controller``: a worker makes it)."""
    cls = class_of(c)
    assert cls is not None, "an agent's file runs only in the sandbox"
    return cls


def _sandboxed_curve(c: Candidate, split: Split, s: Shipping) -> Curve | None:
    """An agent file's dense curve, measured in the sandbox from the source the history
    holds -- what ships (None: it fails the gate now)."""
    task = evaluation(split.search, REPORT_BETAS, s.final_repeats, s.final_seed, s.width)
    result = check_source(str(c.source), f"candidate_{c.id}.py", data=[split.search[0].path],
                          evaluate=task, limits=s.sandbox)  # fmt: skip
    return Curve.from_json(result.report["curve"]) if result.ok else None


def choose(
    history: History, finals: Sequence[Candidate], refs: dict[str, Curve], s: Shipping
) -> Choice:
    """The objective's choice over the built-ins' and finalists' dense points (not every
    candidate's 4-ordering ones: over those it would pick lucky draws). Every finalist's
    points are knots -- a search point's, the learned rule's, an agent's file's (it will run
    in the sandbox) -- so one selection weighs them all. Without stitching, the best single
    finalist ships."""
    base = [k for name, curve in refs.items() for k in objective.knots_of(name, curve)]
    own = [k for c in finals for k in objective.knots_of(c.id, history.measurements[c.id].curve)]
    margin = objective.noise_margin(base)
    span = objective.Range.of(base + own, margin)
    builtins = objective.value(objective.select(base, margin), span)
    if not s.stitch:
        best = finals[0]
        inside = [k for k in own if k.source == best.id and span.contains(k)]
        alone = objective.value(objective.select(inside, margin), span)
        return Choice((), None if best.is_data else best, alone, builtins, margin, best)
    chain = objective.select(base + own, margin)
    return Choice(tuple(chain), None, objective.value(chain, span), builtins, margin, finals[0])


def render(choice: Choice, history: History, split: Split, s: Shipping, chunk: int) -> Path:
    """Write what ships: a controller document (and the agents' files it runs), or, without
    stitching, an agent's file. Its path."""
    s.out.mkdir(parents=True, exist_ok=True)
    calibrated = Calibration(max_branches=s.width, chunk_tokens=chunk)
    best = choice.agent or choice.best
    controllers = controllers_of(choice.knots, history)
    header = describe(choice, history, split, s, controllers)
    files: dict[type[Controller], FileSpec] = {}
    if choice.knots:
        files = _write_files(choice.knots, controllers, history, s)
        doc = stitch.document(s.name, choice.knots, controllers, header, calibrated, files)
    elif best.is_data:
        assert best.params is not None
        rule = best.rule.rule() if best.rule is not None else None
        doc = families.document(s.name, best.params, header, rule)
        doc = doc.model_copy(update={"calibrated": calibrated})
    else:  # an agent's file: code, so measured (and later served) only in the sandbox
        path = s.out / f"{s.name}.py"
        source = str(best.source).replace(repr(best.controller), repr(s.name))
        path.write_text(
            f'"""{header}"""\n\n' + source.replace(f'"{best.controller}"', repr(s.name))
        )
        _prune_files(s, keep=())
        return path
    path = s.out / f"{s.name}.json"
    write_document(path, doc)
    _prune_files(s, keep=[f.path for f in files.values()])
    return path


def _files_folder(s: Shipping) -> Path:
    """Where the agents' files a document runs go: a folder the registry does not serve."""
    return s.out / f"{s.name}_files"


def _write_files(
    knots: Sequence[objective.Knot],
    controllers: dict[objective.Source, type[Controller]],
    history: History,
    s: Shipping,
) -> dict[type[Controller], FileSpec]:
    """Copy the agents' files the chain runs beside the document, each as it was measured
    (named by its digest too, so a previous document's pins hold until it is replaced);
    their pins."""
    folder = _files_folder(s)
    files: dict[type[Controller], FileSpec] = {}
    for source in dict.fromkeys(k.source for k in knots):
        c = None if isinstance(source, str) else history.candidate(source)
        if c is None or c.is_data:
            continue
        data = str(c.source).encode()
        digest = hashlib.sha256(data).hexdigest()
        name = f"candidate_{c.id}_{digest[:12]}.py"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
        files[controllers[source]] = FileSpec(path=f"{folder.name}/{name}", sha256=digest)
    return files


def _prune_files(s: Shipping, keep: Sequence[str]) -> None:
    """Remove the agents' files no shipped document pins any more (after it is written)."""
    folder = _files_folder(s)
    for old in folder.glob("*.py"):
        if f"{folder.name}/{old.name}" not in keep:
            old.unlink()
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def controllers_of(
    knots: Sequence[objective.Knot], history: History
) -> dict[objective.Source, type[Controller]]:
    """Each knot's controller class; an agent's file's is its sandboxed stand-in (nothing
    starts until it is asked to decide)."""
    registry = ControllerRegistry(sandbox=MEASURE_LIMITS)
    out: dict[objective.Source, type[Controller]] = {}
    for k in knots:
        if isinstance(k.source, str):
            out[k.source] = registry.get(k.source)
            continue
        c = history.candidate(k.source)
        if c.is_data:
            out[k.source] = data_class(c)
        else:
            filename = f"candidate_{c.id}.py"
            sandboxed = SandboxedFile(str(c.source), filename, limits=MEASURE_LIMITS)
            out[k.source] = remote_class(sandboxed, name=c.controller)
    return out


def describe(
    choice: Choice,
    history: History,
    split: Split,
    s: Shipping,
    controllers: dict[objective.Source, type[Controller]],
) -> str:
    """The shipped file's description: data, search, what was chosen and what it runs (its
    knots' ``controllers``)."""
    search = ", ".join(e.name for e in split.search)
    held = ", ".join(e.name for e in split.held_out)
    pseudo = sum(e.pseudo_labels for e in (*split.search, *split.held_out))
    tries = sum(1 for c in history.candidates if c.proposer == "agent")
    if choice.knots:
        chosen = (
            f"The chain of {len(choice.knots)} operating points with the highest objective "
            "(the accuracy's lower bound over log cost, docs/discovery.md)."
        )
    else:
        best = choice.agent or choice.best
        chosen = f"The single {best.proposer} candidate {best.id}."
    paragraphs = [
        f"Discovered by `tts-proxy discover` on {now()}.",
        f"Search set: {search}. Held out: {held}. Pseudo-labels: {pseudo}.",
        f"{len(history.candidates)} candidates over {history.rounds_done} rounds, agent "
        f"proposals: {tries}. {chosen}",
    ]
    if choice.knots:
        label = partial(_label, history)
        runs = stitch.summary(choice.knots, controllers, Limits(max_branches=s.width), label)
        paragraphs.append(f"Beta runs: {runs}.")
    paragraphs.append(f"Held-out curve against every built-in: reports/{s.name}.json.")
    return "\n\n".join(textwrap.fill(p, width=96) for p in paragraphs) + "\n"


def shipped_class(path: Path) -> type[Controller]:
    """The controller a shipped document describes, as the proxy would build it (its agents'
    files gated and run in the sandbox). Once per process and document: the gate takes
    seconds, and a sandboxed piece's worker serves every later measurement."""
    return _shipped(path, hashlib.sha256(path.read_bytes()).hexdigest())


@functools.cache
def _shipped(path: Path, digest: str) -> type[Controller]:
    # The document pins its pieces' bytes (``digest``); its workers get measuring limits.
    file = ControllerRegistry(sandbox=MEASURE_LIMITS).judge(path)
    if not file.controllers:
        raise ValueError(f"the shipped controller does not load: {file.reason}")
    return file.controllers[0]


def held_out_curves(
    path: Path, choice: Choice, split: Split, s: Shipping, measurer: Measurer
) -> tuple[Curve, dict[str, Curve]]:
    """The shipped controller's curve on the held-out set (at the report betas and its
    knots, its natural operating points), and every built-in's at the report betas."""
    betas = tuple(sorted(set(REPORT_BETAS) | set(stitch.positions(choice.knots))))
    builtins = [Task(partial(builtin, name), split.held_out, REPORT_BETAS, s.report_repeats,
                     s.seed, s.width) for name in objective.BUILTINS]  # fmt: skip
    if path.suffix == ".json":
        shipped = Task(partial(shipped_class, path), split.held_out, betas,
                       s.report_repeats, s.seed, s.width)  # fmt: skip
        candidate, *curves = measurer.curves([shipped, *builtins])
    else:
        candidate = _sandboxed_held_out(path, betas, split, s)
        curves = measurer.curves(builtins)
    return candidate, dict(zip(objective.BUILTINS, curves, strict=True))


def _sandboxed_held_out(path: Path, betas: Sequence[float], split: Split, s: Shipping) -> Curve:
    task = evaluation(split.held_out, betas, s.report_repeats, s.seed, s.width)
    result = check_file(path, data=[split.search[0].path], evaluate=task, limits=s.sandbox)
    if not result.ok:
        path.unlink()
        raise ValueError(f"the winner failed the gate when shipped: {result.reason}")
    return Curve.from_json(result.report["curve"])


def report(
    path: Path, choice: Choice, history: History, split: Split, s: Shipping,
    finals: Sequence[Candidate], agent_model: str | None, measurer: Measurer,
) -> dict[str, Any]:  # fmt: skip
    """Measure the shipped controller and every built-in on the held-out set; write the
    report and its plot; return the report."""
    candidate, builtins = held_out_curves(path, choice, split, s, measurer)
    per_env = {}
    for env, pts in candidate.per_environment:
        env_refs = {n: Curve(dict(c.per_environment)[env]) for n, c in builtins.items()}
        verdict = comparison(compare(Curve(pts), env_refs))
        per_env[env] = {k: v for k, v in verdict.items() if k != "gaps"}
    candidates = history.candidates
    out = {
        "name": s.name, "file": str(path), "created": now(), "data": split.describe(),
        "proposer": "stitched" if choice.knots else (choice.agent or choice.best).proposer,
        "knots": [asdict(k) for k in choice.knots],
        "search": {
            "candidates": len(candidates),
            "accepted": sum(1 for c in candidates if c.ok),
            "agent_proposals": sum(1 for c in candidates if c.proposer == "agent"),
            "agent": agent_model or "none given: parameter search only",
            "objective": round(100 * choice.value, 3) if (choice.knots or choice.agent) else None,
            "builtins_objective": round(100 * choice.builtins_value, 3),
            "noise_margin_points": round(100 * choice.margin, 3),
            "finalists": [{"id": c.id, "proposer": c.proposer, "value": c.value,
                           "dense_value": history.measurements[c.id].value} for c in finals],
            "history": str(history.path),
        },
        "held_out": {
            "betas": [p.beta for p in candidate.points], "repeats": s.report_repeats,
            "candidate": candidate.to_json(),
            "builtins": {n: c.to_json() for n, c in builtins.items()},
            "comparison": comparison(compare(candidate, builtins)), "per_environment": per_env,
        },
    }  # fmt: skip
    write_report(s.reports / f"{s.name}.json", out)
    plot(s.reports / f"{s.name}.png", s.name, candidate, builtins)
    return out


def _label(history: History, source: objective.Source) -> str:
    if isinstance(source, str):
        return source
    return f"candidate {source}" + ("" if history.candidate(source).is_data else " (agent's file)")


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
