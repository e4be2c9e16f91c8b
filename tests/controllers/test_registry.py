from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.controllers.test_document import GOOD as GOOD_DOCUMENT
from tests.controllers.test_document import WAVES, with_file_piece
from tts_proxy.controllers import ControllerRegistry, Trust
from tts_proxy.controllers.gate import GateResult
from tts_proxy.controllers.remote import RemoteController
from tts_proxy.controllers.stitched import Stitched
from tts_proxy.controllers.trust import TrustList
from tts_proxy.errors import UnknownControllerError

GOOD = """
from tts_proxy.actions import Answer
from tts_proxy.controllers.base import Controller


class Quick(Controller):
    name = "quick"

    def decide(self, view):
        return [Answer()]
"""


def test_builtins_are_registered() -> None:
    names = ControllerRegistry().names()
    assert {"sc", "asc", "esc", "probe_exit", "parallel_probe", "cmc"} <= set(names)


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UnknownControllerError) as info:
        ControllerRegistry().get("nope")
    assert "cmc" in info.value.message and info.value.param == "tts.controller"


def test_extra_directory_is_loaded_and_reloaded(tmp_path: Path) -> None:
    registry = ControllerRegistry([tmp_path])
    assert "quick" not in registry
    (tmp_path / "quick.py").write_text(GOOD)
    (tmp_path / "broken.py").write_text("this is not python")
    registry.reload()
    assert "quick" in registry
    assert any("broken.py" in path for path in registry.errors)


def passes(source: str, filename: str) -> GateResult:
    """A gate that passes every file (the registry's own logic under test, not the gate's)."""
    return GateResult(True, [], {"controller": "waves"})


def test_a_document_is_judged_again_when_a_file_its_pieces_name_changes(tmp_path: Path) -> None:
    trust = TrustList(frozenset({hashlib.sha256(WAVES.encode()).hexdigest()}))
    path = with_file_piece(tmp_path)
    piece = tmp_path / "mine_files" / "waves.py"
    piece.unlink()
    registry = ControllerRegistry([tmp_path], trust=trust)
    assert "unreadable" in registry.errors[str(path)]
    before = registry.versions()
    piece.write_text(WAVES)  # it comes back: the watcher sees a change, the reload serves it
    assert registry.versions() != before
    registry.reload()
    assert "mine" in registry and not registry.errors
    piece.write_text(WAVES + "# edited\n")  # the document is unchanged, its piece is not
    registry.reload()
    assert "mine" not in registry
    assert "not the bytes the document pins" in registry.errors[str(path)]


def test_a_document_gone_stops_its_sandboxed_pieces(tmp_path: Path) -> None:
    path = with_file_piece(tmp_path)
    registry = ControllerRegistry([tmp_path], gate=passes)
    cls = registry.get("mine")
    assert issubclass(cls, Stitched)
    piece = cls.piece_at(1.0)[0]
    assert issubclass(piece, RemoteController) and not piece.sandboxed.closed
    path.unlink()
    registry.reload()
    assert "mine" not in registry and piece.sandboxed.closed


def test_a_data_document_wins_a_name_over_one_with_a_sandboxed_piece(tmp_path: Path) -> None:
    with_file_piece(tmp_path)  # serves "mine", with a sandboxed piece
    data = tmp_path / "plain.json"
    data.write_text(json.dumps(GOOD_DOCUMENT))  # serves "mine" too, as data
    registry = ControllerRegistry([tmp_path], gate=passes)
    trust = {Path(f.path).name: f.trust for f in registry.files}
    assert trust == {"plain.json": Trust.DATA, "mine.json": Trust.REFUSED}
    assert "already served" in registry.errors[str(tmp_path / "mine.json")]
