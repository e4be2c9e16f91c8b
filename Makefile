# tts-proxy: `make serve` runs the proxy over an embedded vLLM; `make test` runs every test.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
EXTRA ?= cpu
ARGS ?=

.PHONY: serve test lint typecheck bench clean

# The marker is rebuilt when pyproject.toml changes. PyPI's torchvision/torchaudio/torchcodec
# are CUDA builds that break imports beside the CPU torch, and triton has no CPU backend.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[$(EXTRA),dev]'
	if [ "$(EXTRA)" = cpu ]; then $(BIN)/pip uninstall -q -y torchvision torchaudio torchcodec triton || true; fi
	touch $@

serve: $(VENV)/.installed
	$(BIN)/tts-proxy serve --port $(PORT) $(ARGS)

test: $(VENV)/.installed
	$(BIN)/python -m tts_proxy.embedded.model --quiet
	$(BIN)/python -m pytest -q $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

lint: $(VENV)/.installed
	$(BIN)/ruff check tts_proxy tests benchmarks
	$(BIN)/ruff format --check tts_proxy tests benchmarks

typecheck: $(VENV)/.installed
	$(BIN)/mypy tts_proxy tests benchmarks

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/frontier.py
	$(BIN)/python benchmarks/passthrough_latency.py
	$(BIN)/python benchmarks/load.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
