"""Environment builders: CSV grids, the replay cascade, synthetic grids."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import shared_file
from tts_proxy.errors import PlanError
from tts_proxy.replay.environment import RecordedBranch, ReplayQuestion
from tts_proxy.replay.key_cache import prime_answer_keys
from tts_proxy.workflows.data import load_environment, size_from_name
from tts_proxy.workflows.environment import Choice, Table
from tts_proxy.workflows.grids import cascade_from_replay, from_csv, synthetic

GRID = """\
retrieve_model,retrieve_samples,answer_model,answer_samples,score,flops
small,1,small,1,0.40,10
small,1,large,1,0.55,30
large,1,small,1,0.50,25
large,1,large,1,0.70,45
"""


def test_a_csv_grid_records_each_plans_joint_score(tmp_path: Path) -> None:
    path = tmp_path / "rag.csv"
    path.write_text(GRID)
    table = Table(from_csv(path))
    assert table.stages == ["retrieve", "answer"] and table.size() == 4
    m = table.measure((Choice(model="large", samples=1), Choice(model="small", samples=1)))
    assert m is not None and (m.score, m.flops) == (0.5, 25.0)


def test_a_csv_grid_may_give_tokens_per_stage_instead_of_flops(tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    path.write_text("a_model,a_samples,a_tokens,score\nm,2,100,0.5\n")
    with pytest.raises(PlanError, match="parameter count"):
        from_csv(path)
    m = Table(from_csv(path, parameters={"m": 1e9})).measure((Choice(model="m", samples=2),))
    assert m is not None and m.flops == 2 * 1e9 * 100


@pytest.mark.parametrize(
    ("text", "why"),
    [("a_model,score\nm,1\n", "a_samples"), ("a_model,a_samples,score\nm,1,1\n", "flops"),
     ("a_model,a_samples,flops\nm,1,1\n", "score"), ("", "no rows"),
     ("a_model,a_samples,score,flops\nm,two,1,1\n", "line 2")],
)  # fmt: skip
def test_a_malformed_grid_says_what_is_wrong(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "g.csv"
    path.write_text(text)
    with pytest.raises(PlanError, match=why):
        from_csv(path)


def test_synthetic_grids_saturate_and_interact() -> None:
    env = synthetic(3)
    table = Table(env)
    ks = (1, 2, 4, 8, 16)
    small = [Choice(model="small-1b", samples=k) for k in ks]
    other = [table.options(s)[0] for s in table.stages[1:]]
    scores = [table.measure((c, *other)).score for c in small]  # type: ignore[union-attr]
    per_sample = [(b - a) / (kb - ka) for a, b, ka, kb in zip(scores, scores[1:], ks, ks[1:],
                                                               strict=False)]  # fmt: skip
    assert all(g > 0 for g in per_sample)
    assert per_sample == sorted(per_sample, reverse=True)  # each more sample adds less
    weak, strong = small[0], small[-1]
    second = table.options(table.stages[1])[-1]
    rest = tuple(table.options(s)[0] for s in table.stages[2:])
    low, high = table.measure((weak, second, *rest)), table.measure((strong, second, *rest))
    assert low is not None and high is not None
    # the second stage's own score (not only the product) depends on the first's choice
    assert high.score / scores[-1] > low.score / scores[0]


def _question(answers: list[str]) -> ReplayQuestion:
    branches = tuple(RecordedBranch((), 100, a) for a in answers)
    return ReplayQuestion(id="q", question="1+0?", label="1", branches=branches, chunk_tokens=500)


def test_the_cascade_escalates_unless_the_draft_agrees() -> None:
    good = prime_answer_keys([_question(["1"] * 8)], source="")
    split = prime_answer_keys([_question([str(i) for i in range(2, 10)])], source="")
    env = cascade_from_replay({"good": good, "split": split}, {"good": 1e9, "split": 1e9},
                              samples=(1, 2), repeats=2)  # fmt: skip
    table = Table(env)

    def run(m1: str, k1: int, m2: str, k2: int) -> tuple[float, float]:
        plan = (Choice(model=m1, samples=k1), Choice(model=m2, samples=k2))
        m = table.measure(plan)
        assert m is not None
        return m.score, m.stage_flops[1]

    assert run("good", 2, "split", 2) == (1.0, 0.0)  # settled: escalate never runs
    assert run("split", 2, "good", 2) == (1.0, 2 * 1e9 * 200)  # unsettled: escalate answers
    assert run("split", 2, "split", 1)[0] == 0.0
    assert run("good", 1, "split", 1)[0] == 0.0  # one sample never settles


def test_the_cascade_from_the_shared_replay_files_has_every_plan() -> None:
    root = shared_file("autotts")
    env = load_environment(root, samples=(1, 4), repeats=1)
    table = Table(env)
    assert table.stages == ["draft", "escalate"] and table.size() == 8 * 8
    assert set(env.parameters) == {"Qwen3-0.6B", "Qwen3-1.7B", "Qwen3-4B", "Qwen3-8B"}
    assert len(table.questions) == 30 and set(env.regularities) >= {"interaction"}


def test_sizes_are_read_from_model_names() -> None:
    assert size_from_name("Qwen3-0.6B") == 6e8
    assert size_from_name("SmolLM2-135M-Instruct") == 1.35e8
    assert size_from_name("mystery") is None
