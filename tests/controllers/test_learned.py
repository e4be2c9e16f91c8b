"""The learned stopping rule: plain numbers in a document, a bar that rises with beta."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.discovery.conftest import write_environment
from tts_proxy.controllers import ControllerRegistry, Trust
from tts_proxy.controllers.base import Limits
from tts_proxy.controllers.document import build, load_document
from tts_proxy.controllers.learned import FEATURES, UNTRAINED, LearnedStop, LinearRule
from tts_proxy.errors import ControllerLoadError
from tts_proxy.replay.evaluate import evaluate
from tts_proxy.replay.importers import load_replay

RULE = {"weights": [0.5] * len(FEATURES), "bias": -1.0, "mean": [0.0] * len(FEATURES),
        "scale": [1.0] * len(FEATURES)}  # fmt: skip


def document(rule: dict[str, object]) -> dict[str, object]:
    return {"schema": "tts-controller/1", "name": "fitted",
            "controller": {"kind": "family", "family": "learned", "rule": rule}}  # fmt: skip


def test_a_fitted_rule_is_data_the_registry_serves(tmp_path: Path) -> None:
    (tmp_path / "fitted.json").write_text(json.dumps(document(RULE)))
    registry = ControllerRegistry([tmp_path])
    (file,) = registry.files
    assert file.trust is Trust.DATA, file.reason
    cls = registry.get("fitted")
    assert issubclass(cls, LearnedStop) and cls.rule.weights == tuple(RULE["weights"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "rule",
    [RULE | {"weights": [1.0]}, RULE | {"bias": math.inf}, RULE | {"scale": [0.0] * len(FEATURES)}],
)
def test_a_rule_that_does_not_fit_the_features_is_refused(tmp_path: Path, rule: object) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document(rule)).replace("Infinity", "1e999"))  # type: ignore[arg-type]
    with pytest.raises(ControllerLoadError):
        build(load_document(path).controller)


def test_only_the_learned_family_takes_a_rule(tmp_path: Path) -> None:
    data = document(RULE)
    data["controller"] = {"kind": "family", "family": "sc", "rule": RULE}
    path = tmp_path / "sc.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ControllerLoadError, match="only learned takes a rule"):
        load_document(path)


def test_the_untrained_rule_reads_the_posterior_only() -> None:
    low = [0.0] * len(FEATURES)
    high = [1.0 if f == "posterior" else 0.0 for f in FEATURES]
    assert UNTRAINED.probability(low) < 0.05 < 0.95 < UNTRAINED.probability(high)
    other = [0.0 if f == "posterior" else 9.0 for f in FEATURES]
    assert UNTRAINED.probability(other) == UNTRAINED.probability(low)


def test_a_higher_bar_never_spends_less_on_average(tmp_path: Path) -> None:
    questions = load_replay(write_environment(tmp_path / "m" / "bench.json", questions=6))
    fitted = type("fitted", (LearnedStop,), {"name": "fitted", "rule": LinearRule(
        tuple(RULE["weights"]), -1.0, tuple(RULE["mean"]), tuple(RULE["scale"])  # type: ignore[arg-type]
    )})  # fmt: skip
    spent = [evaluate(fitted, questions, b / 4, limits=Limits(max_branches=16), repeats=2)
             .tokens_per_question for b in range(5)]  # fmt: skip
    assert spent == sorted(spent)
