"""The embedded default: a local model folder and a vLLM server run as a child process."""
