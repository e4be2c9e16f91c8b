"""Controller documents: data checked against the families' schemas, built by built-in code."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tts_proxy.controllers import ControllerRegistry, Trust, load_controller_file
from tts_proxy.controllers.base import Controller, Limits
from tts_proxy.controllers.cmc import ConfidenceMomentum
from tts_proxy.controllers.document import (
    ControllerDocument,
    FamilySpec,
    build,
    load_document,
    spec_of,
    write_document,
)
from tts_proxy.controllers.probe_exit import ProbeExit
from tts_proxy.controllers.remote import RemoteController
from tts_proxy.controllers.sandbox import MEASURE_LIMITS
from tts_proxy.controllers.stitched import Stitched
from tts_proxy.controllers.trust import TrustList
from tts_proxy.errors import ControllerLoadError
from tts_proxy.replay.evaluate import evaluate
from tts_proxy.replay.synthetic import synthetic_question

CMC_RAMPS = {k: {"lo": r.lo, "hi": r.hi, "geometric": r.geometric}
             for k, r in ConfidenceMomentum.ramps.items()}  # fmt: skip


def stitched(pieces: list[dict[str, object]]) -> dict[str, object]:
    return {"schema": "tts-controller/1", "name": "mine",
            "controller": {"kind": "stitched", "pieces": pieces}}  # fmt: skip


def probe_exit_then(upper: dict[str, object]) -> dict[str, object]:
    """A document: probe_exit for beta up to 0.5, then ``upper``."""
    return stitched([
        {"start": 0.0, "end": 0.5, "lo": 0.0, "hi": 1.0,
         "controller": {"kind": "family", "family": "probe_exit"}},
        {"start": 0.5, "end": 1.0, "lo": 0.0, "hi": 1.0, "controller": upper},
    ])  # fmt: skip


GOOD = probe_exit_then({"kind": "family", "family": "cmc", "ramps": CMC_RAMPS})


def test_a_document_builds_the_controller_it_describes(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(GOOD))
    doc = load_document(path)
    cls = build(doc.controller, doc.name)
    assert issubclass(cls, Stitched) and cls.name == "mine"
    assert cls.piece_at(0.25) == (ProbeExit, 0.5)
    inner, beta = cls.piece_at(0.75)
    assert issubclass(inner, ConfidenceMomentum) and inner.ramps == ConfidenceMomentum.ramps
    assert beta == 0.5


def test_spec_of_is_builds_inverse(tmp_path: Path) -> None:
    spec = load_document_from(tmp_path, GOOD).controller
    assert spec_of(build(spec, "mine")) == spec
    path = tmp_path / "round.json"
    write_document(path, ControllerDocument(name="mine", controller=spec))
    assert load_document(path).controller == spec


def load_document_from(tmp_path: Path, data: dict[str, object]) -> ControllerDocument:
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(data))
    return load_document(path)


def one_piece(controller: dict[str, object], end: float = 1.0) -> dict[str, object]:
    return stitched([{"start": 0.0, "end": end, "lo": 0.0, "hi": 1.0, "controller": controller}])


def spending_less() -> dict[str, object]:
    ramps = CMC_RAMPS | {"max_width": {"lo": 48, "hi": 8}}
    return one_piece({"kind": "family", "family": "cmc", "ramps": ramps})


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (spending_less(), "spends less as beta grows"),
        (one_piece({"kind": "family", "family": "sc"}, end=0.4), "cover beta"),
        (GOOD | {"name": "Not A Name"}, "name"),
        (GOOD | {"code": "import os"}, "code"),
        ({**GOOD, "controller": {"kind": "family", "family": "os.system"}}, "family"),
        ({**GOOD, "controller": {"kind": "family", "family": "sc", "ramps": CMC_RAMPS}}, "ramps"),
        ({**GOOD, "schema": "tts-controller/9"}, "schema"),
        (one_piece({"kind": "file", "path": "../up/evil.py", "sha256": "0" * 64}), "path"),
        (one_piece({"kind": "file", "path": "/etc/evil.py", "sha256": "0" * 64}), "path"),
        (one_piece({"kind": "file", "path": "mine_files/a.py", "sha256": "beef"}), "sha256"),
    ],
)
def test_a_document_outside_the_schema_is_refused_with_the_reason(
    tmp_path: Path, data: dict[str, object], why: str
) -> None:
    with pytest.raises(ControllerLoadError) as info:
        load_document_from(tmp_path, data)
    assert why in info.value.message


def test_the_registry_serves_documents_as_data_and_refuses_broken_ones(tmp_path: Path) -> None:
    (tmp_path / "mine.json").write_text(json.dumps(GOOD))
    (tmp_path / "broken.json").write_text("{not json")
    registry = ControllerRegistry([tmp_path])
    trust = {Path(f.path).name: f.trust for f in registry.files}
    assert trust == {"mine.json": Trust.DATA, "broken.json": Trust.REFUSED}
    assert "mine" in registry


def test_a_builtin_family_is_the_builtin_itself() -> None:
    assert build(FamilySpec(family="probe_exit")) is ProbeExit
    assert spec_of(ProbeExit) == FamilySpec(family="probe_exit")


@pytest.mark.parametrize("family", ["sc", "asc", "esc", "probe_exit", "parallel_probe", "cmc"])
def test_every_family_takes_ramps_for_its_own_schedule(tmp_path: Path, family: str) -> None:
    cls = ControllerRegistry().get(family)
    ramps = {k: {"lo": s.ramp.lo, "hi": s.ramp.hi} for k, s in cls.schedule.items()}
    doc = load_document_from(tmp_path, one_piece({"kind": "family", "family": family,
                                                  "ramps": ramps}))  # fmt: skip
    built = build(doc.controller, doc.name)
    inner, _ = built.piece_at(0.5)  # type: ignore[attr-defined]
    assert issubclass(inner, cls) and set(inner.ramps) == set(cls.schedule)
    assert spec_of(built) == doc.controller


def test_a_calibrated_document_scales_branch_counts_to_the_request_and_says_so(
    tmp_path: Path,
) -> None:
    ramps = CMC_RAMPS | {"max_width": {"lo": 4, "hi": 64}}
    data = one_piece({"kind": "family", "family": "cmc", "ramps": ramps})
    data |= {"calibrated": {"max_branches": 64, "chunk_tokens": 500}}
    doc = load_document_from(tmp_path, data)
    cls = build(doc.controller, doc.name, doc.calibrated)
    at_64 = cls(1.0, Limits(max_branches=64, chunk_tokens=500))
    at_8 = [cls(b / 4, Limits(max_branches=8, chunk_tokens=500)) for b in range(5)]
    assert at_64.effective_settings()["max_width"] == 64 and at_64.calibration_notes == ()
    widths = [c.effective_settings()["max_width"] for c in at_8]
    assert widths == sorted(widths) and widths[0] < widths[-1] == 8  # beta still widens
    (note,) = at_8[0].calibration_notes
    assert "64 branches" in note and "8" in note
    # At another chunk its probe and round counts mean other spans: said, not rescaled.
    (chunked,) = cls(0.5, Limits(max_branches=64, chunk_tokens=128)).calibration_notes
    assert "chunks of 500 tokens" in chunked and "128" in chunked
    # Uncalibrated built-ins have no note: their schedule is their definition at any width.
    assert ConfidenceMomentum(1.0, Limits(max_branches=8, chunk_tokens=9)).calibration_notes == ()


def test_a_controller_that_runs_branches_whole_has_no_chunk_to_differ_from(
    tmp_path: Path,
) -> None:
    data = one_piece({"kind": "family", "family": "sc"})
    data |= {"calibrated": {"max_branches": 64, "chunk_tokens": 500}}
    doc = load_document_from(tmp_path, data)
    cls = build(doc.controller, doc.name, doc.calibrated)
    assert cls(1.0, Limits(max_branches=64, chunk_tokens=32)).calibration_notes == ()


# A controller file (as an agent might write one) that discovery stitched into a document.
WAVES = """
from tts_proxy.actions import Answer, Branch, Continue
from tts_proxy.controllers.base import Controller, interpolate


class Waves(Controller):
    name = "waves"

    def decide(self, view):
        running = [Continue(b.id, to_end=True) for b in view.active]
        if running:
            return running
        room = min(1 + round(interpolate(0, 5, self.beta)) - len(view.branches), view.can_branch)
        return [Branch(room, to_end=True)] if room > 0 else [Answer()]
"""
QUESTIONS = [synthetic_question(s) for s in range(6)]


def with_file_piece(folder: Path, source: str = WAVES, pinned: str = WAVES) -> Path:
    """``mine.json``: probe_exit up to beta 0.5, then the file ``mine_files/waves.py``."""
    (folder / "mine_files").mkdir(exist_ok=True)
    (folder / "mine_files" / "waves.py").write_text(source)
    sha = hashlib.sha256(pinned.encode()).hexdigest()
    doc = probe_exit_then({"kind": "file", "path": "mine_files/waves.py", "sha256": sha})
    (folder / "mine.json").write_text(json.dumps(doc))
    return folder / "mine.json"


def decides_as_the_file_does(served: type[Controller], folder: Path) -> None:
    (file,) = load_controller_file(folder / "mine_files" / "waves.py")  # in process, as written
    for beta, local in ((0.75, 0.5), (1.0, 1.0)):
        here, there = evaluate(file, QUESTIONS, local), evaluate(served, QUESTIONS, beta)
        assert there.faults == here.faults == []  # a fault names what went wrong in the sandbox
        assert [e.answer for e in there.episodes] == [e.answer for e in here.episodes]
        assert there.tokens_per_question == here.tokens_per_question


def test_a_file_piece_runs_only_through_the_registry(tmp_path: Path) -> None:
    doc = load_document(with_file_piece(tmp_path))
    with pytest.raises(ControllerLoadError, match="load the document through the registry"):
        build(doc.controller, doc.name)


def test_a_trusted_file_piece_runs_in_process_as_the_file_does(tmp_path: Path) -> None:
    with_file_piece(tmp_path)
    trust = TrustList(frozenset({hashlib.sha256(WAVES.encode()).hexdigest()}))
    registry = ControllerRegistry([tmp_path], trust=trust)
    (served,) = [f for f in registry.files if f.path.endswith("mine.json")]
    assert served.trust is Trust.TRUSTED  # served as its least trusted piece
    assert "waves" not in registry  # the piece's folder is not served on its own
    cls = registry.get("mine")
    assert issubclass(cls, Stitched) and cls.piece_at(0.25)[0] is ProbeExit
    decides_as_the_file_does(cls, tmp_path)


@pytest.mark.parametrize(
    ("source", "untrusted", "why"),
    [
        (WAVES + "# changed after it was measured\n", "sandbox", "not the bytes the document pins"),
        (None, "sandbox", "unreadable"),
        (WAVES, "refuse", "not in the trust list"),
    ],
)
def test_a_file_piece_that_is_not_what_was_pinned_or_allowed_refuses_the_document(
    tmp_path: Path, source: str | None, untrusted: str, why: str
) -> None:
    path = with_file_piece(tmp_path, source or WAVES)
    if source is None:
        (tmp_path / "mine_files" / "waves.py").unlink()
    registry = ControllerRegistry([tmp_path], untrusted=untrusted)  # type: ignore[arg-type]
    assert "mine" not in registry
    assert why in registry.errors[str(path)]


@pytest.mark.timeout(300)
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_an_untrusted_file_piece_is_gated_and_decides_from_the_sandbox(tmp_path: Path) -> None:
    with_file_piece(tmp_path)
    # Measuring limits: a decide slowed by a busy machine must not become a fault here.
    registry = ControllerRegistry([tmp_path], sandbox=MEASURE_LIMITS)
    (served,) = registry.files
    assert served.trust is Trust.SANDBOXED, registry.errors
    cls = registry.get("mine")
    assert issubclass(cls, Stitched)
    piece = cls.piece_at(0.75)[0]
    assert issubclass(piece, RemoteController)
    assert piece.sandboxed.limits == MEASURE_LIMITS  # the registry's, not the serving default
    decides_as_the_file_does(cls, tmp_path)
    registry.close()
    assert piece.sandboxed.closed  # its worker stops with the document


def test_a_calibrated_file_piece_says_it_runs_as_written_at_another_width_and_chunk(
    tmp_path: Path,
) -> None:
    path = with_file_piece(tmp_path)
    data = json.loads(path.read_text()) | {"calibrated": {"max_branches": 64, "chunk_tokens": 500}}
    path.write_text(json.dumps(data))
    trust = TrustList(frozenset({hashlib.sha256(WAVES.encode()).hexdigest()}))
    cls = ControllerRegistry([tmp_path], trust=trust).get("mine")
    assert cls(1.0, Limits(max_branches=64, chunk_tokens=500)).calibration_notes == ()
    width, chunk = cls(1.0, Limits(max_branches=8, chunk_tokens=256)).calibration_notes
    assert "it is code, run as written at this request's 8" in width
    assert "chunks of 500 tokens" in chunk
