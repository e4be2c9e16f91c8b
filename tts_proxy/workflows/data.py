"""Read a planning environment from what a user has: an environment file, an AgentTTS-style
CSV grid, or a directory of replay files of several models on the same questions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from tts_proxy.errors import PlanError
from tts_proxy.replay.importers import load_replay
from tts_proxy.workflows.definition import read_spec
from tts_proxy.workflows.environment import WorkflowEnvironment, read_environment
from tts_proxy.workflows.explore import read_log, spec_beside
from tts_proxy.workflows.explored import from_explorations
from tts_proxy.workflows.grids import DEFAULT_SAMPLES, cascade_from_replay, from_csv

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([BbMm])(?![a-z])")


def size_from_name(name: str) -> float | None:
    """Parameters a model's name states ("Qwen3-0.6B" -> 6e8, "SmolLM2-135M" -> 1.35e8)."""
    found = _SIZE.findall(name)
    if not found:
        return None
    number, unit = found[-1]
    return float(number) * (1e9 if unit in "Bb" else 1e6)


def load_environment(
    path: Path,
    *,
    workflow: str | None = None,
    parameters: Mapping[str, float] | None = None,
    repeats: int = 8,
    samples: tuple[int, ...] = DEFAULT_SAMPLES,
    traces: Path = Path("traces"),
) -> WorkflowEnvironment:
    """The environment at ``path``: ``*.csv`` (a grid), ``*.json`` (``tts-workflow-env/1``),
    an exploration log of ``collect --workflow`` (``*.jsonl``, its workflow file beside it;
    the requests' records in ``traces``), or a directory with one sub-directory of replay
    files per model (a cascade)."""
    sizes = dict(parameters or {})
    if path.suffix == ".jsonl":
        spec_path = spec_beside(path)
        if not spec_path.is_file():
            raise PlanError(f"{path}: no workflow file beside it ({spec_path.name})")
        spec = read_spec(spec_path)
        for model in {m for s in spec.stages for m in s.models} - set(sizes):
            size = size_from_name(model)
            if size is not None:
                sizes[model] = size
        return from_explorations(spec, read_log(path), traces, sizes, repeats=repeats)
    if path.is_dir():
        models = {}
        for sub in sorted(p for p in path.iterdir() if p.is_dir()):
            files = sorted(f for f in sub.iterdir() if f.suffix in (".json", ".jsonl"))
            if len(files) != 1:
                raise PlanError(f"{sub}: expected one replay file, found {len(files)}")
            models[sub.name] = load_replay(files[0])
            if sub.name not in sizes:
                size = size_from_name(sub.name)
                if size is None:
                    raise PlanError(f"no parameter count for {sub.name!r}: give --parameters")
                sizes[sub.name] = size
        if len(models) < 1:
            raise PlanError(f"{path} holds no model directories of replay files")
        return cascade_from_replay(models, sizes, samples=samples, repeats=repeats,
                                   workflow=workflow or "cascade")  # fmt: skip
    if path.suffix == ".csv":
        return from_csv(path, workflow=workflow, parameters=sizes)
    env = read_environment(path)
    return env.model_copy(update={"workflow": workflow}) if workflow else env
