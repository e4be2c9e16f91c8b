"""Backends: where the engine's chunks and probes come from (a live vLLM, or recorded traces)."""

from tts_proxy.backends.base import Chunk, Episode, ProbeResult

__all__ = ["Chunk", "Episode", "ProbeResult"]
