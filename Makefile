# llmkb — the two commands: `make serve` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?= full
TOPIC ?=
HOST ?= 127.0.0.1:8000
STAMP := $(VENV)/.llmkb-installed
# Bytecode goes to one folder in the venv, never into the source tree (mkdocs serve watches it): pip skips
# compiling the whole of site-packages at install (about a minute on two cores), and each module is compiled
# once, the first time anything imports it, then reused by every later process (tests, builds, kernels).
unexport PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX := $(abspath $(VENV))/pycache
export NO_MKDOCS_2_WARNING := 1

.PHONY: install serve site lab test lint chromium clean distclean help mutants llamacpp

help:
	@echo "make serve   build (labs cached, profile=$(PROFILE)) and serve at http://$(HOST)/<sub-path>/"
	@echo "make test    the whole test suite (quick profile), installing what it needs"
	@echo "make install | site [PROFILE=quick|full] | lab TOPIC=<slug> [PROFILE=...] | lint | clean | distclean"
	@echo "make mutants  apply each realistic bug of mutants/mutants.toml and report how many the tests catch"
	@echo "make llamacpp build llama-cpp-python once (~10 min) and check llama.cpp runs our GGUF files as we do"

# The environment: pinned by requirements.lock (torch==2.13.0, the CPU wheel this machine type has) and, for
# the files the site serves itself (the math font), by package-lock.json (npm ci: exact versions, no scripts).
install: $(STAMP)
$(STAMP): pyproject.toml requirements.lock package.json package-lock.json
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; set PYTHON=python3.11" >&2; exit 2; }
	@command -v npm >/dev/null || { echo "error: npm not found; install Node.js and npm (Debian: apt-get install npm)" >&2; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --no-compile -c requirements.lock -e '.[dev]'
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

# serve: experiments whose full result is not cached yet are shown from the quick profile (marked on the
# page) while the full labs run in the background; the pages reload as the results land.
serve: install
	LLMKB_PROFILE=$(PROFILE) LLMKB_FALLBACK=quick $(BIN)/mkdocs serve --strict -a $(HOST)

# site (what the Pages workflow publishes): the chosen profile only, never a fallback.
site: install
	LLMKB_PROFILE=$(PROFILE) LLMKB_FALLBACK= $(BIN)/mkdocs build --strict

lab: install
	@test -n "$(TOPIC)" || { echo "usage: make lab TOPIC=<slug> [PROFILE=quick|full]" >&2; exit 2; }
	$(BIN)/llmkb lab run $(TOPIC) --profile $(PROFILE)

# Debian's chromium for the browser tests (never a downloaded browser).
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@chromium --version

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Two xdist workers on two cores: one thread each (torch would otherwise start two per worker and the
# oversubscribed cores slow everything down several-fold).
test: install chromium lint
	OMP_NUM_THREADS=1 LLMKB_PROFILE=quick $(BIN)/python -m pytest -q -n 2 --dist loadgroup --durations=15 tests
	LLMKB_PROFILE=quick $(BIN)/python -m pytest -q --codeblocks docs README.md

# Test strength (not part of `make test`; minutes): apply each curated bug of mutants/mutants.toml to a
# temporary copy, run the tests that should catch it, print the table and the kill rate; fails below the
# list's threshold. MUTANTS="-j 2 --only ID" passes options on.
mutants: install
	OMP_NUM_THREADS=1 LLMKB_PROFILE=quick $(BIN)/python -m mutants $(MUTANTS)

# llama.cpp on our GGUF files (not part of `make test`): llama-cpp-python is compiled from source once into
# .cache/llama-cpp/ (about ten minutes on two cores; outside the venv, so the lock stays CPU-wheel-only), then `llmkb bench llamacpp` compares
# llama.cpp's logits and greedy tokens with ours for each GGUF type and writes llmkb/bench/results/llamacpp_cpu.json.
LLAMACPP := .cache/llama-cpp
LLAMACPP_VERSION := 0.3.36
# AVX2-class kernels, not -march=native: a native build also compiles AMX/AVX-512 paths that a CPU may advertise
# but a virtual machine may not allow (the quantized types then die with SIGILL).
LLAMACPP_CMAKE := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
llamacpp: install
	test -d $(LLAMACPP)/llama_cpp || CMAKE_BUILD_PARALLEL_LEVEL=2 CMAKE_ARGS="$(LLAMACPP_CMAKE)" \
	  $(BIN)/python -m pip install -q --no-cache-dir --target $(LLAMACPP) llama-cpp-python==$(LLAMACPP_VERSION)
	OMP_NUM_THREADS=1 PYTHONPATH=$(abspath $(LLAMACPP)) $(BIN)/llmkb bench llamacpp

clean:
	rm -rf site .cache .pytest_cache .hypothesis .ruff_cache

distclean: clean
	rm -rf $(VENV) *.egg-info node_modules
