# The two commands: `make serve` and `make test`. Both set up .venv first (idempotent).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHECKSUM := $(shell cksum pyproject.toml | cut -d' ' -f1)
STAMP := $(VENV)/.installed-$(CHECKSUM)
TEST_STAMP := $(VENV)/.installed-test-$(CHECKSUM)
BENCH_STAMP := $(VENV)/.installed-bench-$(CHECKSUM)
PUFFERLIB_CORE := pufferlib-core==3.0.23
# The peer `make bench` runs beside our PPO; --no-deps: its torch requirement must not replace ours
# (its other runtime dependencies are ours already).
SB3 := stable-baselines3==2.9.2 sb3-contrib==2.9.2

.PHONY: venv serve test bench clean chromium

venv: $(STAMP)

# pufferlib-core pins torch==2.9.0, so it is installed --no-deps after our own pinned torch;
# its runtime dependencies are listed in pyproject.toml.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet --no-deps $(PUFFERLIB_CORE)
	rm -f $(VENV)/.installed-*
	touch $@

# `make test` adds the `ray` extra (no torch; ~30 s once): the Ray launcher's integration test
# starts a real loopback Ray head. The server itself never imports ray.
$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,ray]'
	touch $@

# The first trainer on a fresh clone would spend ~25 s compiling the env: warm numba's on-disk
# cache in the background while the service starts (about a second when it is already warm).
serve: venv
	$(BIN)/python -m trainer.warmup > /dev/null 2>&1 &
	$(BIN)/python -m app --runs-root runs

# tests/dashboard drive Debian's chromium through Playwright (Playwright's own browser download
# cannot run here): installed with apt when missing and running as root (CI), else a message
# naming the command.
chromium:
	@command -v chromium > /dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "make test needs Chromium for tests/dashboard; install it with: sudo apt-get install -y chromium" >&2; exit 1; \
	  fi; }

# Two xdist workers, each module (and the dashboard package) on one of them, so that its fixtures
# start once; the longest handed out first (tests/scheduling.py).
test: $(TEST_STAMP) chromium
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps $(SB3)
	touch $@

# BENCH="env peers" runs only those parts (python -m bench --help lists them).
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench $(BENCH)

# Also the compiled env kernels: numba's cache keeps a directory per version of trainer/env/'s
# sources (trainer/env/numba_cache.py), ~18 MB each, and never removes one.
clean:
	rm -rf $(VENV) bench-out trainer/env/__pycache__/numba-*
