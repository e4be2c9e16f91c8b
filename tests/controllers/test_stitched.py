"""The stitched controller runs the piece beta falls in, exactly as that controller would."""

from __future__ import annotations

import pytest

from tts_proxy.controllers.base import Controller, Limits
from tts_proxy.controllers.cmc import ConfidenceMomentum
from tts_proxy.controllers.sc import SelfConsistency
from tts_proxy.controllers.stitched import Piece, Stitched
from tts_proxy.replay.evaluate import evaluate
from tts_proxy.replay.synthetic import synthetic_question


class TwoPieces(Stitched):
    name = "two_pieces"
    pieces = (
        Piece(0.0, 0.4, SelfConsistency, 0.0, 0.2),
        Piece(0.4, 1.0, ConfidenceMomentum, 0.5, 1.0),
    )


@pytest.mark.parametrize(
    ("beta", "inner", "local"),
    [(0.0, SelfConsistency, 0.0), (0.2, SelfConsistency, 0.1), (0.7, ConfidenceMomentum, 0.75)],
)
def test_each_beta_runs_its_piece_at_the_pieces_own_beta(
    beta: float, inner: type, local: float
) -> None:
    controller = TwoPieces(beta, Limits(max_branches=16))
    assert type(controller.inner) is inner
    assert controller.inner.beta == pytest.approx(local)


def test_a_stitched_point_replays_exactly_as_its_controller() -> None:
    questions = [synthetic_question(i, branches=16) for i in range(6)]
    cases: list[tuple[float, type[Controller], float]] = [
        (0.2, SelfConsistency, 0.1),
        (0.7, ConfidenceMomentum, 0.75),
    ]
    for beta, inner, local in cases:
        ours = evaluate(TwoPieces, questions, beta, repeats=2)
        theirs = evaluate(inner, questions, local, repeats=2)
        assert (ours.accuracy, ours.tokens_per_question) == (
            theirs.accuracy,
            theirs.tokens_per_question,
        )


def test_a_stitched_controller_without_pieces_says_so() -> None:
    class Empty(Stitched):
        name = "empty"

    with pytest.raises(TypeError, match="no pieces"):
        Empty(0.5, Limits())
