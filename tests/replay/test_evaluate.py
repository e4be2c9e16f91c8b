"""Replay evaluation on the shared AIME24 environments: published baselines and the CMC target."""

from __future__ import annotations

import pytest

from tests.conftest import shared_file
from tts_proxy.controllers.base import Limits
from tts_proxy.controllers.cmc import ConfidenceMomentum
from tts_proxy.controllers.sc import SelfConsistency
from tts_proxy.replay.evaluate import evaluate
from tts_proxy.replay.importers import load_replay
from tts_proxy.replay.synthetic import synthetic_question

# AutoTTS paper, Table 1 (exact-string grading): SC@64 accuracy % and tokens per question.
PUBLISHED_SC64 = {
    "Qwen3-0.6B": (21.4, 1008.6e3),
    "Qwen3-1.7B": (72.5, 1025.8e3),
    "Qwen3-4B": (80.0, 886.8e3),
    "Qwen3-8B": (80.4, 910.8e3),
}


def test_evaluation_counts_and_grades() -> None:
    questions = [synthetic_question(s) for s in range(4)]
    ev = evaluate(SelfConsistency, questions, 1.0, limits=Limits(max_branches=32), repeats=3)
    assert ev.questions == 4 and ev.repeats == 3 and len(ev.episodes) == 12
    # Every trajectory runs to the end: tokens are the recorded lengths.
    assert ev.tokens_per_question == pytest.approx(
        sum(sum(b.n_tokens for b in q.branches) for q in questions) / 4
    )
    assert 0.0 <= ev.accuracy <= 1.0
    assert ev.accuracy == sum(e.correct for e in ev.episodes) / 12


@pytest.mark.parametrize("model", sorted(PUBLISHED_SC64))
def test_sc64_reproduces_the_published_numbers(model: str) -> None:
    questions = load_replay(shared_file("autotts", model, "aime24.json"))
    ev = evaluate(SelfConsistency, questions, 1.0, limits=Limits(max_branches=64), repeats=16)
    accuracy, tokens = PUBLISHED_SC64[model]
    assert ev.tokens_per_question == pytest.approx(tokens, rel=0.02)
    assert ev.accuracy * 100 == pytest.approx(accuracy, abs=2.0)


def test_cmc_at_half_beta_matches_sc64_with_a_third_of_the_tokens() -> None:
    accuracy: list[float] = []
    tokens: list[float] = []
    sc_accuracy: list[float] = []
    for model in sorted(PUBLISHED_SC64):
        questions = load_replay(shared_file("autotts", model, "aime24.json"))
        limits = Limits(max_branches=64)
        cmc = evaluate(ConfidenceMomentum, questions, 0.5, limits=limits, repeats=16)
        sc = evaluate(SelfConsistency, questions, 1.0, limits=limits, repeats=16)
        accuracy.append(cmc.accuracy)
        tokens.append(cmc.tokens_per_question / sc.tokens_per_question)
        sc_accuracy.append(sc.accuracy)
    mean = sum(accuracy) / 4 * 100
    sc_mean = sum(sc_accuracy) / 4 * 100
    assert mean >= sc_mean - 1.0, (mean, sc_mean)
    assert sum(tokens) / 4 <= 0.35, tokens
