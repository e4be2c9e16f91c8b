"""The HTTP surface: OpenAI-compatible routes over the TTS service."""
