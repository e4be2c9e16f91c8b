"""Every controller maps beta monotonically: more beta never spends less on the same question."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import shared_file
from tts_proxy.controllers import ControllerRegistry
from tts_proxy.controllers.base import Limits
from tts_proxy.controllers.cmc import ConfidenceMomentum
from tts_proxy.controllers.sc import SelfConsistency
from tts_proxy.replay.environment import ReplayQuestion
from tts_proxy.replay.evaluate import evaluate
from tts_proxy.replay.importers import load_replay
from tts_proxy.replay.synthetic import synthetic_question

BETAS = [0.0, 0.25, 0.5, 0.75, 1.0]
# Exactly monotone by construction: a fixed stopping rule and a beta-monotone allowance.
EXACT = ["sc", "asc", "esc", "probe_exit", "parallel_probe"]


def tokens_by_question(
    name: str, questions: list[ReplayQuestion], beta: float, repeats: int
) -> dict[int, float]:
    cls = ControllerRegistry().get(name)
    ev = evaluate(cls, questions, beta, limits=Limits(max_branches=64), repeats=repeats)
    per: dict[int, float] = defaultdict(float)
    for e in ev.episodes:
        per[e.question] += e.tokens / repeats
    return per


def assert_monotone_per_question(name: str, questions: list[ReplayQuestion], repeats: int) -> None:
    spend = [tokens_by_question(name, questions, b, repeats) for b in BETAS]
    for q in range(len(questions)):
        series = [s[q] for s in spend]
        assert series == sorted(series), f"{name} question {q}: {series}"


@pytest.mark.parametrize("name", EXACT)
def test_exact_monotone_on_synthetic_questions(name: str) -> None:
    assert_monotone_per_question(name, [synthetic_question(s) for s in range(6)], repeats=4)


@pytest.mark.parametrize("name", EXACT)
def test_exact_monotone_on_shared_aime(name: str) -> None:
    questions = load_replay(shared_file("autotts", "Qwen3-8B", "aime24.json"))
    assert_monotone_per_question(name, questions, repeats=4)


def test_cmc_spends_more_with_more_beta_on_average() -> None:
    """CMC's stopping is dynamic, so a single question can invert; the mean never does."""
    questions = load_replay(shared_file("autotts", "Qwen3-8B", "aime24.json"))
    means = [sum(tokens_by_question("cmc", questions, b, 4).values()) for b in BETAS]
    assert means == sorted(means), means


@pytest.mark.parametrize("name", [*EXACT, "cmc"])
def test_settings_are_monotone_in_beta(name: str) -> None:
    """Beta outside [0, 1] is refused; inside, construction works at every grid point."""
    cls = ControllerRegistry().get(name)
    for beta in BETAS:
        cls(beta, Limits(max_branches=64))
    with pytest.raises(ValueError):
        cls(1.5, Limits())


def test_cmc_settings_grow_with_beta() -> None:
    from tts_proxy.controllers.cmc import CMCSettings

    grid = [CMCSettings.from_beta(b, Limits(max_branches=64)) for b in BETAS]
    for field in ("initial_width", "max_width", "widen_by", "tau", "min_pool", "abandon_patience"):
        values = [getattr(s, field) for s in grid]
        assert values == sorted(values), (field, values)


def test_a_ramp_with_knees_is_flat_outside_them_and_monotone_inside() -> None:
    from tts_proxy.controllers.base import Ramp

    ramp = Ramp(1, 64, geometric=True, onset=0.2, until=0.8)
    values = [ramp.at(b / 20) for b in range(21)]
    assert values == sorted(values)
    assert ramp.at(0.0) == ramp.at(0.2) == 1 and ramp.at(0.8) == ramp.at(1.0) == 64
    assert Ramp(3, 1).at(0.5) == 2  # a falling ramp (for settings where less spends more)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 256), st.floats(0, 1))
def test_branch_counts_scale_with_the_request_width(width: int, beta: float) -> None:
    """A setting that counts branches is written for 64 and scaled to the request's width:
    `sc` is one sample at beta 0 and SC@width at beta 1 at any width, linear between."""
    limits = Limits(max_branches=width)
    sc = SelfConsistency(beta, limits)
    assert abs(sc.width - (1 + beta * (width - 1))) <= 0.5 + 1e-9
    assert SelfConsistency(1.0, limits).width == width
    assert SelfConsistency(0.0, limits).width == 1
    cmc = ConfidenceMomentum(beta, limits)
    assert 1 <= cmc.settings.initial_width <= cmc.settings.max_width <= width
