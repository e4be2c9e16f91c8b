"""Search/held-out splits: whole files by name, and a seeded share of each other file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.discovery.conftest import two_models
from tts_proxy.discovery.environments import split_environments
from tts_proxy.errors import ReplayDataError


def test_files_named_held_out_go_there_whole(tmp_path: Path) -> None:
    split = split_environments(two_models(tmp_path), held_out=["model-b"])
    assert [e.name for e in split.search] == ["model-a/bench"]
    assert [e.name for e in split.held_out] == ["model-b/bench"]
    assert len(split.held_out[0].questions) == 6


def test_within_a_file_questions_are_split_by_seed(tmp_path: Path) -> None:
    paths = two_models(tmp_path)
    a = split_environments(paths, held_out_share=0.5, seed=3)
    b = split_environments(paths, held_out_share=0.5, seed=3)
    c = split_environments(paths, held_out_share=0.5, seed=4)
    assert [e.indices for e in a.search] == [e.indices for e in b.search]
    assert [e.indices for e in a.search] != [e.indices for e in c.search]
    for search, held in zip(a.search, a.held_out, strict=True):
        assert set(search.indices).isdisjoint(held.indices)
        assert len(search.indices) + len(held.indices) == 6


def test_a_split_with_nothing_held_out_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ReplayDataError, match="nothing was held out"):
        split_environments(two_models(tmp_path), held_out_share=0.0)


def test_a_held_out_name_that_matches_no_file_is_refused(tmp_path: Path) -> None:
    # "model-B" (a typo) would otherwise leave model-b in the search set, unannounced.
    with pytest.raises(ReplayDataError, match="'model-B' names none of model-a/bench"):
        split_environments(two_models(tmp_path), held_out=["model-a", "model-B"])
