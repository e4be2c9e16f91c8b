"""Controllers served from the OS sandbox: the same decisions as in process, and every way a
sandboxed controller can fail ends as a controller fault of one search, never the proxy's."""

from __future__ import annotations

import shutil
from collections.abc import Sequence

import pytest

from tts_proxy.actions import Action
from tts_proxy.controllers.base import Controller
from tts_proxy.controllers.cmc import ConfidenceMomentum
from tts_proxy.controllers.remote import RemoteController, SandboxedFile, remote_class
from tts_proxy.controllers.sandbox import Limits
from tts_proxy.controllers.wire import DeltaEncoder, Mirror
from tts_proxy.replay.evaluate import evaluate
from tts_proxy.replay.synthetic import synthetic_question
from tts_proxy.state import View

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed"),
]
QUESTIONS = [synthetic_question(s) for s in range(6)]
HEAD = """
from tts_proxy.actions import Answer, Branch, Continue
from tts_proxy.controllers.base import Controller
from tts_proxy.controllers.cmc import ConfidenceMomentum
"""


def served(body: str, name: str, *, call_seconds: float = 60.0) -> type[RemoteController]:
    limits = Limits(memory_bytes=1 << 30, cpu_seconds=600, wall_seconds=call_seconds)
    return remote_class(SandboxedFile(HEAD + body, f"{name}.py", limits=limits))


def test_a_sandboxed_controller_decides_as_it_would_in_process() -> None:
    remote = served('class Copy(ConfidenceMomentum):\n    name = "copy"\n', "copy")
    try:
        for beta in (0.0, 0.5, 1.0):
            here = evaluate(ConfidenceMomentum, QUESTIONS, beta, repeats=2)
            there = evaluate(remote, QUESTIONS, beta, repeats=2)
            assert [e.answer for e in there.episodes] == [e.answer for e in here.episodes]
            assert there.tokens_per_question == here.tokens_per_question
    finally:
        remote.sandboxed.kill()


FAULTY = {
    "hangs": """
class Hangs(Controller):
    name = "hangs"
    def decide(self, view):
        if view.branches:
            while True:
                pass
        return [Branch(2, to_end=True)]
""",
    "garbage": """
class Garbage(Controller):
    name = "garbage"
    def decide(self, view):
        if view.branches:
            return [42, {"type": "Answer", "answer": object}]
        return [Branch(2, to_end=True)]
""",
    "chatty": """
class Chatty(Controller):
    name = "chatty"
    def decide(self, view):
        print('{"id": 0, "actions": []}', flush=True)  # a forged reply, on its own stdout
        if not view.branches:
            return [Branch(2, to_end=True)]
        return [Answer()]
""",
    "dies": """
import ctypes
class Dies(Controller):
    name = "dies"
    def decide(self, view):
        if view.branches:
            ctypes.string_at(0)  # a segfault
        return [Branch(2, to_end=True)]
""",
}


@pytest.mark.parametrize("name", ["hangs", "garbage", "dies"])
def test_a_failing_sandboxed_controller_is_a_fault_of_its_search_only(name: str) -> None:
    remote = served(FAULTY[name], name, call_seconds=1.0)
    try:
        result = evaluate(remote, QUESTIONS[:1], 0.5, repeats=1)
        (episode,) = result.episodes
        assert episode.stop_reason == "controller_error" and episode.fault
        assert episode.answer is not None  # the engine answered by majority of what ran
        again = evaluate(remote, QUESTIONS[:1], 0.5, repeats=1)  # a new worker if it died
        assert again.episodes[0].stop_reason == "controller_error"
    finally:
        remote.sandboxed.kill()


def test_what_a_sandboxed_controller_prints_does_not_reach_the_proxy() -> None:
    remote = served(FAULTY["chatty"], "chatty")
    try:
        (episode,) = evaluate(remote, QUESTIONS[:1], 0.5, repeats=1).episodes
        assert episode.stop_reason == "answer" and episode.fault is None
    finally:
        remote.sandboxed.kill()


class Recording(Controller):
    """Checks, every round, that a mirror fed only deltas sees the view it was shown."""

    name = "recording"
    inner = ConfidenceMomentum

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.encoder, self.mirror = DeltaEncoder(), Mirror()
        self.delegate = ConfidenceMomentum(self.beta, self.limits, self.rng)

    def decide(self, view: View) -> Sequence[Action]:
        seen = self.mirror.apply(self.encoder.encode(view))
        fields = ("id", "depth", "tokens", "finished", "pruned", "active", "answer", "key")
        for a, b in zip(view.branches, seen.branches, strict=True):
            assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]
            assert [(p.depth, p.answer, p.key) for p in a.probes] == [
                (p.depth, p.answer, p.key) for p in b.probes
            ]
        return self.delegate.decide(seen)


def test_view_deltas_rebuild_every_view() -> None:
    for beta in (0.0, 1.0):
        ev = evaluate(Recording, QUESTIONS, beta, repeats=2)
        assert not ev.faults, ev.faults[:1]


def test_view_deltas_carry_token_confidence() -> None:
    from tts_proxy.confidence import ConfidenceSignals
    from tts_proxy.state import BranchState

    encoder, mirror = DeltaEncoder(), Mirror()
    branch = BranchState(id=0, depth=1, tokens=16)
    view = View([branch], 0, 16, None, 4)
    assert mirror.apply(encoder.encode(view)).branches[0].confidence is None
    branch.confidence = ConfidenceSignals(3.0, 2.0, 2.5)
    assert mirror.apply(encoder.encode(view)).branches[0].confidence == branch.confidence
