"""Trust is explicit and pinned to content: only listed digests run in the proxy's process."""

from __future__ import annotations

from pathlib import Path

import pytest

from tts_proxy.controllers import ControllerRegistry, Trust
from tts_proxy.controllers.gate import GateResult
from tts_proxy.controllers.trust import TrustList, digest

SOURCE = """
from tts_proxy.actions import Answer
from tts_proxy.controllers.base import Controller


class Quick(Controller):
    name = "quick"

    def decide(self, view):
        return [Answer("in process")]
"""


def never_sandboxed(source: str, filename: str) -> GateResult:
    return GateResult(False, ["the sandbox was not to be used here"])


def test_a_pinned_file_runs_in_process_until_it_changes(tmp_path: Path) -> None:
    controllers = tmp_path / "controllers"
    controllers.mkdir()
    path = controllers / "quick.py"
    path.write_text(SOURCE)
    trust_file = tmp_path / "trusted.txt"
    trust_file.write_text(f"# reviewed\n{digest(path)}  quick.py\n")
    registry = ControllerRegistry([controllers], trust=TrustList.read(trust_file),
                                  gate=never_sandboxed)  # fmt: skip
    (file,) = registry.files
    assert file.trust is Trust.TRUSTED and registry.get("quick").__module__.startswith("tts_")
    path.write_text(SOURCE + "\n# one more line\n")
    registry.reload()
    (file,) = registry.files
    assert file.trust is Trust.REFUSED and "quick" not in registry
    assert "the sandbox was not to be used here" in (file.reason or "")


def test_untrusted_files_can_be_refused_outright(tmp_path: Path) -> None:
    (tmp_path / "quick.py").write_text(SOURCE)
    registry = ControllerRegistry([tmp_path], untrusted="refuse", gate=never_sandboxed)
    (file,) = registry.files
    assert file.trust is Trust.REFUSED and "trust list" in (file.reason or "")


def test_a_malformed_trust_list_fails_loudly(tmp_path: Path) -> None:
    bad = tmp_path / "trusted.txt"
    bad.write_text("not-a-digest quick.py\n")
    with pytest.raises(ValueError, match="not a SHA-256"):
        TrustList.read(bad)


def test_a_sandboxed_file_cannot_take_a_trusted_files_name_and_a_clash_is_not_forever(
    tmp_path: Path,
) -> None:
    controllers = tmp_path / "controllers"
    controllers.mkdir()
    trusted = controllers / "z_quick.py"
    trusted.write_text(SOURCE)
    trust_file = tmp_path / "trusted.txt"
    trust_file.write_text(digest(trusted) + "\n")

    def passes(source: str, filename: str) -> GateResult:
        return GateResult(True, [], {"controller": "quick"})

    impostor = controllers / "a_quick.py"  # sorts first, and claims the same name
    impostor.write_text(SOURCE.replace("in process", "impostor"))
    registry = ControllerRegistry([controllers], trust=TrustList.read(trust_file), gate=passes)
    verdicts = {Path(f.path).name: f.trust for f in registry.files}
    assert verdicts == {"z_quick.py": Trust.TRUSTED, "a_quick.py": Trust.REFUSED}
    trusted.unlink()
    registry.reload()
    (file,) = registry.files
    assert file.trust is Trust.SANDBOXED  # the name is free now: its cached verdict stands
    registry.close()
