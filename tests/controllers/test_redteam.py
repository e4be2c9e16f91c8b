"""Red team: controller files that try to escape (``redteam``), in discovery's sandboxed
evaluation and in a running proxy after a reload. Each is refused or runs without effect: no
marker file is written, the listener on the host's loopback is never reached, no secret shows
up in an answer, and the proxy goes on serving."""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from tests.controllers.redteam import corpus
from tests.discovery.conftest import write_environment
from tests.fakes import FakeModelServer, Script
from tts_proxy.api.app import create_app
from tts_proxy.controllers import Trust
from tts_proxy.controllers.gate import check_file, static_problems
from tts_proxy.controllers.sandbox import Limits
from tts_proxy.replay.importers import load_replay
from tts_proxy.settings import Settings

pytestmark = [
    pytest.mark.timeout(900),
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed"),
]
SECRET = "redteam-secret-0123456789"
LIMITS = Limits(memory_bytes=2 << 30, cpu_seconds=60, wall_seconds=90)


class Listener:
    """A TCP listener on the host's loopback that counts who reaches it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.reached = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.reached += 1
            conn.close()


@pytest.fixture(scope="module")
def arena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Listener, Path]]:
    root = tmp_path_factory.mktemp("redteam")
    keys = root / "keys.txt"
    keys.write_text(SECRET + "\n")
    listener = Listener()
    yield root, listener, keys
    listener.sock.close()


def assert_no_effect(root: Path, listener: Listener) -> None:
    assert not (root / "marker").exists(), (root / "marker").read_text()
    assert listener.reached == 0
    assert not list(Path(__file__).parents[2].glob("tts_proxy/pwned.py"))


def test_discoverys_sandboxed_evaluation_contains_every_attack(
    arena: tuple[Path, Listener, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, listener, keys = arena
    monkeypatch.setenv("TTS_BACKEND_API_KEY", SECRET)
    data = write_environment(root / "data" / "model" / "bench.json", questions=2)
    load_replay(data)  # the keys are cached before the sandbox reads the data
    spec = {"environments": [{"path": str(data), "indices": [0, 1]}], "betas": [0.0, 1.0],
            "repeats": 1, "seed": 0, "width": 8}  # fmt: skip
    files = corpus(root / "eval", marker=root / "marker", port=listener.port, keys=keys)
    outcomes = {}
    for name, path in files.items():
        result = check_file(path, data=[data], evaluate=spec, limits=LIMITS, lint=False)
        outcomes[name] = "ok" if result.ok else result.reason
        assert SECRET not in json.dumps(result.report)
    assert_no_effect(root, listener)
    assert outcomes["huge_allocation"] == "ok"  # the allocation failed in the sandbox


def test_a_running_proxy_serves_every_attack_without_effect(
    arena: tuple[Path, Listener, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, listener, keys = arena
    monkeypatch.setenv("TTS_BACKEND_API_KEY", SECRET)
    directory = root / "controllers"
    directory.mkdir()
    settings = Settings(backend_url="http://fake", chunk_tokens=8, trace_dir=None,
                        savings_file=None, controllers_dir=directory, controllers_poll_seconds=0,
                        api_keys_file=keys)  # fmt: skip
    app = create_app(settings, FakeModelServer([Script(2, "4", ["4", "4"])]))
    transport = httpx.ASGITransport(app=app)
    headers = {"authorization": f"Bearer {SECRET}"}
    files = corpus(directory, marker=root / "marker", port=listener.port, keys=keys)

    async def drive() -> dict[str, str]:
        answers = {}
        async with httpx.AsyncClient(transport=transport, base_url="http://proxy",
                                     headers=headers, timeout=120) as c:  # fmt: skip
            reloaded = (await c.post("/admin/controllers/reload")).json()
            served = set(reloaded["controllers"])
            for name in files:
                controller = f"attack_{name}"
                if controller not in served:
                    assert any(f"attack_{name}.py" in p for p in reloaded["refused"]), name
                    continue
                body = {"model": "fake", "messages": [{"role": "user", "content": "2+2?"}],
                        "tts": {"controller": controller, "beta": 0.5}}  # fmt: skip
                r = await c.post("/v1/chat/completions", json=body)
                assert r.status_code == 200, r.text
                answers[name] = r.text
            assert (await c.get("/healthz")).status_code == 200
        return answers

    answers = anyio.run(drive)
    registry = app.state.service.registry
    kinds = {Path(f.path).stem: f.trust for f in registry.files}
    registry.close()
    assert set(kinds.values()) <= {Trust.SANDBOXED, Trust.REFUSED}
    assert all(SECRET not in text for text in answers.values())
    # The lint refuses the obvious ones; every other one is served from the sandbox and asked
    # to decide, so its attack ran there, in vain.
    clean = {name for name, path in files.items() if not static_problems(path.read_text())}
    assert set(answers) == clean and {"random_os", "dataclasses_sys", "decorator"} <= clean
    assert_no_effect(root, listener)
