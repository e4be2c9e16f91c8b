from __future__ import annotations

from pathlib import Path

import pytest

from tts_proxy.controllers import ControllerRegistry
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
