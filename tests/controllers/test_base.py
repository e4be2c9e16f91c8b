"""A controller's replay key: what its runs depend on besides the episode and the rng."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tts_proxy.controllers import builtin_controllers
from tts_proxy.controllers.base import Controller, Limits, Ramp
from tts_proxy.controllers.cmc import ConfidenceMomentum
from tts_proxy.controllers.deepconf import DeepConf
from tts_proxy.controllers.learned import UNTRAINED, LearnedStop, LinearRule
from tts_proxy.controllers.sc import SelfConsistency
from tts_proxy.controllers.stitched import Piece, Stitched
from tts_proxy.replay.evaluate import evaluate
from tts_proxy.replay.synthetic import synthetic_question

LIMITS = Limits(max_branches=16)
QUESTIONS = [synthetic_question(s, branches=16) for s in range(4)]
KEYED = sorted(n for n, c in builtin_controllers().items() if c.settings_code is not None)


def fixed_at(family: type[Controller], beta: float) -> type[Controller]:
    """The family with every ramp flat at its value at ``beta``: the same settings at any
    beta."""
    ramps = family.ramps or {n: s.ramp for n, s in family.schedule.items()}
    flat = {n: Ramp(r.at(beta), r.at(beta)) for n, r in ramps.items()}
    return family.with_data(f"{family.name}_fixed", {"ramps": flat})


def test_the_searched_families_say_they_decide_by_their_settings() -> None:
    assert {"sc", "asc", "esc", "probe_exit", "parallel_probe", "cmc", "learned"} <= set(KEYED)


@pytest.mark.parametrize("name", KEYED)
@settings(max_examples=6, deadline=None)
@given(beta=st.floats(0.0, 1.0), other=st.floats(0.0, 1.0))
def test_a_keyed_controller_reads_beta_only_through_its_settings(
    name: str, beta: float, other: float
) -> None:
    """Its settings fixed at one beta and run at another, it decides exactly as at the
    first: the key (code and settings) is all its runs depend on."""
    family = builtin_controllers()[name]
    fixed = fixed_at(family, beta)
    assert fixed.replay_key(other, LIMITS) == family.replay_key(beta, LIMITS)
    want = evaluate(family, QUESTIONS, beta, limits=LIMITS, repeats=2, seed=3)
    got = evaluate(fixed, QUESTIONS, other, limits=LIMITS, repeats=2, seed=3)
    assert got.episodes == want.episodes


def test_settings_that_differ_give_keys_that_differ() -> None:
    assert SelfConsistency.replay_key(0.0, LIMITS) != SelfConsistency.replay_key(1.0, LIMITS)
    assert SelfConsistency.replay_key(0.5, LIMITS) != SelfConsistency.replay_key(0.5, Limits(8))


def test_a_subclass_with_code_of_its_own_has_no_key_unless_it_says_so() -> None:
    class Mine(ConfidenceMomentum):
        name = "mine"

    class Declared(ConfidenceMomentum, decides_by_settings=True):
        name = "declared"

    assert Mine.replay_key(0.5, LIMITS) is None
    assert Declared.settings_code is Declared
    assert Declared.replay_key(0.5, LIMITS) != ConfidenceMomentum.replay_key(0.5, LIMITS)


def test_a_controller_that_reads_beta_itself_has_no_key() -> None:
    assert DeepConf.replay_key(0.5, LIMITS) is None


def test_a_data_subclass_decides_by_its_familys_code() -> None:
    same = ConfidenceMomentum.with_data("copy", {})
    assert same.replay_key(0.3, LIMITS) == ConfidenceMomentum.replay_key(0.3, LIMITS)


def test_a_learned_rule_is_part_of_the_key() -> None:
    n = len(UNTRAINED.weights)
    other = LinearRule((1.0,) * n, 0.0, (0.0,) * n, (1.0,) * n)
    trained = LearnedStop.with_data("trained", {"rule": other})
    assert trained.replay_key(0.5, LIMITS) != LearnedStop.replay_key(0.5, LIMITS)


def test_a_stitched_controller_has_the_key_of_the_piece_it_runs() -> None:
    class TwoPieces(Stitched):
        name = "two"
        pieces = (
            Piece(0.0, 0.4, SelfConsistency, 0.0, 0.2),
            Piece(0.4, 1.0, DeepConf, 0.5, 1.0),
        )

    assert TwoPieces.replay_key(0.2, LIMITS) == SelfConsistency.replay_key(0.1, LIMITS)
    assert TwoPieces.replay_key(0.7, LIMITS) is None
