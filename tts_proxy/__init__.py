"""tts-proxy."""
