"""Discovery's data: replay environments from trace or replay files, split into search and
held-out sets -- by file (models, benchmarks), and within a file by question, seeded."""

from __future__ import annotations

import fnmatch
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tts_proxy.errors import ReplayDataError
from tts_proxy.replay.environment import ReplayQuestion
from tts_proxy.replay.importers import load_replay


@dataclass(frozen=True, slots=True)
class Environment:
    """The questions of one file (or a share of them), under a readable name."""

    name: str
    path: Path
    questions: tuple[ReplayQuestion, ...]
    indices: tuple[int, ...]  # positions of ``questions`` in the file

    @property
    def pseudo_labels(self) -> int:
        return sum(1 for q in self.questions if q.label_source == "pseudo")

    @property
    def unlabelled(self) -> int:
        return sum(1 for q in self.questions if q.label is None)


@dataclass(frozen=True, slots=True)
class Split:
    search: tuple[Environment, ...]
    held_out: tuple[Environment, ...]

    def describe(self) -> dict[str, object]:
        def names(envs: Sequence[Environment]) -> list[dict[str, object]]:
            return [
                {
                    "name": e.name,
                    "path": str(e.path),
                    "questions": len(e.questions),
                    "pseudo_labels": e.pseudo_labels,
                }
                for e in envs
            ]

        return {
            "search": names(self.search),
            "held_out": names(self.held_out),
            "pseudo_labels": sum(e.pseudo_labels for e in (*self.search, *self.held_out)),
        }


def environment_name(path: Path) -> str:
    """``.../Qwen3-8B/aime24.json`` -> ``Qwen3-8B/aime24``: the folder says which model."""
    return path.name if path.is_dir() else f"{path.parent.name}/{path.stem}"


def load_environment(path: Path, indices: Sequence[int] | None = None) -> Environment:
    questions = load_replay(path)
    chosen = tuple(range(len(questions))) if indices is None else tuple(indices)
    try:
        picked = tuple(questions[i] for i in chosen)
    except IndexError as exc:
        raise ReplayDataError(f"{path} has {len(questions)} questions; asked for {chosen}") from exc
    return Environment(environment_name(path), path, picked, chosen)


def split_environments(
    paths: Sequence[Path],
    *,
    held_out: Sequence[str] = (),
    held_out_share: float | None = None,
    seed: int = 0,
) -> Split:
    """Files whose name matches a ``held_out`` pattern go to the held-out set whole. Within
    every other file a seeded ``held_out_share`` of the questions is held out (default: none
    when whole files are held out, else half)."""
    if not paths:
        raise ReplayDataError("discovery needs at least one trace or replay file")
    share = held_out_share if held_out_share is not None else (0.0 if held_out else 0.5)
    search: list[Environment] = []
    kept: list[Environment] = []
    envs = [load_environment(path) for path in paths]
    names = [env.name for env in envs]
    for pattern in held_out:  # a typo would put a model meant to be held out in the search
        if not any(_names(name, pattern) for name in names):
            raise ReplayDataError(f"--held-out {pattern!r} names none of {', '.join(names)}")
    for env in envs:
        name = env.name
        if any(_names(name, p) for p in held_out):
            kept.append(env)
            continue
        order = list(range(len(env.questions)))
        random.Random(f"{seed}/{name}").shuffle(order)
        cut = round(len(order) * share)
        out, into = sorted(order[:cut]), sorted(order[cut:])
        search.append(_subset(env, into))
        if out:
            kept.append(_subset(env, out, suffix="#held-out"))
    if not search or not any(e.questions for e in search):
        raise ReplayDataError("every file was held out: nothing is left to search on")
    if not kept:
        raise ReplayDataError("nothing was held out: name files with --held-out or give a share")
    return Split(tuple(search), tuple(kept))


def _names(name: str, pattern: str) -> bool:
    return fnmatch.fnmatch(name, pattern) or pattern in name


def _subset(env: Environment, positions: Sequence[int], suffix: str = "") -> Environment:
    return Environment(
        env.name + suffix,
        env.path,
        tuple(env.questions[i] for i in positions),
        tuple(env.indices[i] for i in positions),
    )
