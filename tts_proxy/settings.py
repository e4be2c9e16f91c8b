"""Server settings: flags or ``TTS_*`` environment variables, checked at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tts_proxy.beta import Beta
from tts_proxy.controllers.trust import TrustList


class Settings(BaseSettings):
    """Everything the proxy is configured with. Invalid values stop start-up with a message."""

    model_config = SettingsConfigDict(env_prefix="TTS_", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    backend_url: str | None = Field(
        None, description="an existing vLLM server; when unset `serve` starts an embedded one"
    )
    backend_urls: list[str] = Field(
        default_factory=list, description="more vLLM servers beside backend_url (round-robin)"
    )
    backend_cooldown_seconds: float = Field(
        30.0, gt=0, description="how long a server that failed stays out of the rotation"
    )
    backend_api_key: SecretStr | None = Field(None, description="sent to vLLM; never logged")
    api_keys: list[SecretStr] = Field(
        default_factory=list, description="keys clients must send as `Authorization: Bearer`"
    )
    api_keys_file: Path | None = Field(None, description="more keys, one per line")
    metrics_require_key: bool = Field(False, description="/metrics asks for a key too")
    admin_port: int | None = Field(
        None, ge=1, le=65535, description="serve /metrics and /admin/* on this port only"
    )
    admin_host: str = "127.0.0.1"
    max_body_bytes: int = Field(8 << 20, gt=0, description="larger request bodies get a 413")
    max_concurrent_branches: int = Field(
        256, gt=0, description="branches in flight across all searches; more wait in a queue"
    )
    max_queued_searches: int = Field(64, ge=0, description="past this queue: 429 + Retry-After")
    backend_timeout: float = Field(600.0, gt=0)
    model_path: Path | None = Field(
        None, description="the embedded vLLM's model: an HF folder, or a name in vLLM's cache "
        "(none: SmolLM2-135M-Instruct, prepared from PyPI)",
    )  # fmt: skip
    served_model_name: str | None = Field(
        None, description="the name clients use for it (none: smollm2, or the model's name)"
    )
    embedded_port: int = Field(8100, ge=1, le=65535)

    default_controller: str = "probe_exit"
    default_beta: Beta = 0.5
    chunk_tokens: int = Field(256, gt=0)
    engine: Literal["streamed", "round"] = Field(
        "streamed", description="live searches: one stream per branch (streamed), or one "
        "completion per chunk with a barrier each round (round: the reference)",
    )  # fmt: skip
    max_branches: int = Field(8, gt=0, description="server cap; a request may ask for fewer")
    max_branch_tokens: int = Field(1024, gt=0, description="default length cap of one branch")
    max_search_tokens: int = Field(32768, gt=0, description="server cap on a search's budget")
    max_search_seconds: float = Field(
        300.0, gt=0, description="server cap on a search's wall time (then it answers)"
    )
    confidence: bool = Field(
        False, description="measure every search's token confidence (top-k logprobs of each "
        "branch token: costs throughput); a request or a controller that reads it turns it on",
    )  # fmt: skip
    probe_suffix: str = "\nFinal answer: \\boxed{"
    probe_tokens: int = Field(24, gt=0, le=256)
    answer_workers: int = Field(
        1, ge=1, le=64, description="child processes that parse answers (off the event loop)"
    )
    answer_timeout_seconds: float = Field(
        1.0, gt=0, le=60, description="past this an answer's parse is stopped; its text keys it"
    )
    keepalive_seconds: float = Field(5.0, gt=0)
    access_log: bool = Field(
        False, description="a log line per HTTP request (uvicorn's; it costs ~0.2 ms a request, "
        "and /metrics counts every request anyway)",
    )  # fmt: skip
    shutdown_grace_seconds: float = Field(
        30.0, ge=0, description="on SIGTERM/SIGINT, how long in-flight requests may finish"
    )
    controllers_dir: Path | None = Field(None, description="extra controller files to load")
    controllers_poll_seconds: float = Field(
        2.0, ge=0.0, description="how often controllers_dir is checked for changes (0: never)"
    )
    trusted_controllers_file: Path | None = Field(
        None, description="SHA-256 digests of reviewed controller files that may run in process"
    )
    untrusted_controllers: Literal["sandbox", "refuse"] = Field(
        "sandbox", description="other controller files: served from the OS sandbox, or refused"
    )
    sandboxed_decide_seconds: float = Field(
        2.0,
        gt=0.0,
        description="how long a sandboxed controller may take per decision; "
        "past it its worker is stopped and the search answers by majority vote",
    )
    plans_dir: Path | None = Field(
        None, description="workflow plans (tts-plan/1 JSON), re-read when they change"
    )
    plans_poll_seconds: float = Field(
        2.0, ge=0.0, description="how often plans_dir is checked for changes (0: never)"
    )
    model_parameters: dict[str, float] = Field(
        default_factory=dict, description="parameter counts by served model name, for FLOPs "
        '(JSON, e.g. {"qwen3-8b": 8.2e9}; the embedded model is counted from its files)',
    )  # fmt: skip
    trace_dir: Path | None = Field(Path("traces"), description="None disables trace records")
    trace_max_bytes: int = Field(64 << 20, gt=0)
    log_prompts: bool = Field(True, description="false stores a SHA-256 instead of the prompt")
    explore_rate: float = Field(0.0, ge=0.0, le=1.0, description="share of TTS requests explored")
    savings_file: Path | None = Field(
        Path("reports/savings.json"), description="replay-measured savings (the reference)"
    )
    savings_reference_width: int | None = Field(
        None, gt=0, description="the baseline is self-consistency at this width (max_branches)"
    )

    @property
    def served_name(self) -> str:
        """The embedded model's name for clients."""
        if self.served_model_name:
            return self.served_model_name
        return "smollm2" if self.model_path is None else self.model_path.name

    def client_keys(self) -> list[bytes]:
        """Every accepted client key (settings and the keys file); empty means no auth."""
        keys = [k.get_secret_value() for k in self.api_keys]
        if self.api_keys_file is not None:
            lines = self.api_keys_file.read_text().splitlines()
            keys += [line.strip() for line in lines if line.strip() and not line.startswith("#")]
        return [k.encode() for k in keys]

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.api_keys_file is not None and not self.api_keys_file.is_file():
            raise ValueError(f"api_keys_file {self.api_keys_file} is not a readable file")
        if self.trusted_controllers_file is not None:
            if not self.trusted_controllers_file.is_file():
                raise ValueError(f"trusted_controllers_file {self.trusted_controllers_file} "
                                 "is not a readable file")  # fmt: skip
            TrustList.read(self.trusted_controllers_file)  # fails loudly on a malformed line
        for url in [self.backend_url, *self.backend_urls]:
            if url is not None and not url.startswith(("http://", "https://")):
                raise ValueError(f"backend URLs must be http(s) URLs, got {url!r}")
        for name, size in self.model_parameters.items():
            if not size > 0:
                raise ValueError(f"model_parameters[{name!r}] must be a positive count")
        if self.plans_dir is not None and not self.plans_dir.is_dir():
            raise ValueError(f"plans_dir {self.plans_dir} is not a directory")
        if self.backend_urls and self.backend_url is None:
            raise ValueError("backend_urls needs backend_url (the first server) as well")
        return self
