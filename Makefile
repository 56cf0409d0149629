# mlops.platform developer and CI entry points. `make help` lists them.
#
# Every tool runs from .venv/, which make builds from the hashed lock files in
# requirements/ and rebuilds only when a lock changes. Every ansible command runs
# with this repository's ansible.cfg, whatever the current directory.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules --warn-undefined-variables

ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
VENV := $(ROOT)/.venv
BIN := $(VENV)/bin
BUILD := $(ROOT)/build
PYTHON ?= python3
UV_VERSION := 0.13.9
# The interpreter the locks are resolved for; must match the venv's.
LOCK_PYTHON := 3.11

LOCK_INPUTS := requirements/runtime.in requirements/test.in
LOCKS := requirements/runtime.lock requirements/test.lock
STAMP := $(VENV)/.stamp
# The real MLflow server the integration tests run lives in a venv of its own:
# its dependencies conflict with test.lock's. Its lock has its own input digest.
MLFLOW_VENV := $(ROOT)/.venv-mlflow
MLFLOW_LOCK_INPUTS := requirements/mlflow.in
MLFLOW_LOCK := requirements/mlflow.lock
MLFLOW_STAMP := $(MLFLOW_VENV)/.stamp

export ANSIBLE_CONFIG := $(ROOT)/ansible.cfg
# ansible.cfg already points at .collections; molecule writes its own ansible.cfg,
# so the search path is also exported for it (and for anything else that does).
export ANSIBLE_COLLECTIONS_PATH := $(ROOT)/.collections
# Tools that spawn ansible-playbook (molecule) must find the venv's.
export PATH := $(BIN):$(PATH)
export MLOPS_LOCAL_AWS_PORT ?= 4566
# The interpreter the integration tests start `mlflow server` with.
export MLOPS_MLFLOW_PYTHON := $(MLFLOW_VENV)/bin/python

COLLECTION_VERSION = $(shell sed -n "s/^version: *[\"']*\([^\"']*\).*/\1/p" $(ROOT)/galaxy.yml)
COLLECTION_TARBALL = $(BUILD)/mlops-platform-$(COLLECTION_VERSION).tar.gz

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) \
	  | awk 'BEGIN {FS = ":.*## "}; {printf "  %-15s %s\n", $$1, $$2}'

# --- Python environment -----------------------------------------------------
#
# Lock freshness: `make lock` records a SHA-256 of the .in files in each lock's
# header. lock-check recomputes it and compares, so an edited .in file with a
# stale lock fails in milliseconds, offline, without resolving anything.
# (Re-resolving and diffing would need the index and would also flag every new
# upstream release, which is what `make lock-upgrade` is for.)

# $(1): the .in files a lock is resolved from.
inputs_digest = $$(cat $(1) | sha256sum | cut -d' ' -f1)

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# uv reads an existing output file as preferences: `lock` keeps current pins
# wherever the inputs still allow them; `lock-upgrade` moves everything forward.
# test.lock is constrained by runtime.lock, so tests run exactly what users get.
# mlflow.lock is resolved on its own: it only ever goes into .venv-mlflow/.
# $(1): extra `uv pip compile` flags.
define lock_recipe
	compile() { \
	  $(BIN)/uv pip compile --quiet --universal --python-version $(LOCK_PYTHON) \
	    --generate-hashes --custom-compile-command 'make lock' $(1) "$$@"; \
	}; \
	compile requirements/runtime.in -o requirements/runtime.lock; \
	compile requirements/test.in -c requirements/runtime.lock -o requirements/test.lock; \
	compile $(MLFLOW_LOCK_INPUTS) -o $(MLFLOW_LOCK); \
	for lock in $(LOCKS); do \
	  sed -i "2a #    inputs-sha256: $(call inputs_digest,$(LOCK_INPUTS))" "$$lock"; \
	done; \
	sed -i "2a #    inputs-sha256: $(call inputs_digest,$(MLFLOW_LOCK_INPUTS))" $(MLFLOW_LOCK)
endef

.PHONY: lock lock-upgrade
lock: $(BIN)/uv ## Re-resolve requirements/*.lock after editing a .in file (keeps pins)
	$(call lock_recipe,)

lock-upgrade: $(BIN)/uv ## Re-resolve requirements/*.lock at the newest allowed versions
	$(call lock_recipe,--upgrade)

.PHONY: lock-check
lock-check: ## Fail if a lock file is older than requirements/*.in
	@for lock in $(LOCKS); do \
	  grep -qxF "#    inputs-sha256: $(call inputs_digest,$(LOCK_INPUTS))" "$$lock" \
	    || { echo "$$lock does not match $(LOCK_INPUTS): run 'make lock'" >&2; exit 1; }; \
	done; \
	grep -qxF "#    inputs-sha256: $(call inputs_digest,$(MLFLOW_LOCK_INPUTS))" $(MLFLOW_LOCK) \
	  || { echo "$(MLFLOW_LOCK) does not match $(MLFLOW_LOCK_INPUTS): run 'make lock'" >&2; exit 1; }

$(STAMP): $(LOCKS) | $(BIN)/uv lock-check
	$(BIN)/uv pip sync --quiet --python $(BIN)/python --require-hashes requirements/test.lock
	touch $@

.PHONY: venv
venv: $(STAMP) ## Create or update .venv/ from requirements/test.lock

$(MLFLOW_VENV)/bin/python:
	$(PYTHON) -m venv $(MLFLOW_VENV)

# --compile-bytecode: `mlflow server` imports mlflow twice per start (the CLI, then
# its worker), ~10 s each from source, and under PYTHONDONTWRITEBYTECODE nothing
# caches the result. Compiling once here costs ~40 s per lock change.
$(MLFLOW_STAMP): $(MLFLOW_LOCK) | $(BIN)/uv $(MLFLOW_VENV)/bin/python lock-check
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(MLFLOW_VENV)/bin/python \
	  --require-hashes $(MLFLOW_LOCK)
	touch $@

.PHONY: mlflow-venv
mlflow-venv: $(MLFLOW_STAMP) ## Create or update .venv-mlflow/ (the integration tests' MLflow server)

# --- Local environment ------------------------------------------------------

.PHONY: local-up local-down local-clean local-status k8s-build
local-up: $(STAMP) ## Start the local AWS stand-in and the local Kubernetes control plane
	$(BIN)/python tools/local_aws.py up
	$(BIN)/python tools/local_k8s.py up

# down/clean need only the standard library: they work before .venv/ exists.
local-down: ## Stop the local AWS stand-in and the local control plane
	$(PYTHON) tools/local_k8s.py down
	$(PYTHON) tools/local_aws.py down

local-status: $(STAMP) ## Say whether the local AWS stand-in and control plane are running
	aws=0; k8s=0; \
	$(BIN)/python tools/local_aws.py status || aws=$$?; \
	$(BIN)/python tools/local_k8s.py status || k8s=$$?; \
	exit $$(( aws > k8s ? aws : k8s ))

# local_k8s.py clean first: it stops the control plane whose state lives in .local/k8s.
local-clean: ## Stop both and delete their state (.local/)
	$(PYTHON) tools/local_k8s.py clean
	$(PYTHON) tools/local_aws.py clean

# Built once per machine from the Go modules pinned in tools/k8s/, cached in
# ${XDG_CACHE_HOME:-~/.cache}/mlops-platform/k8s/; prints nothing once cached.
k8s-build: $(STAMP) ## Build the local control plane's binaries (cached; KUBEBUILDER_ASSETS overrides)
	$(BIN)/python tools/local_k8s.py build

.PHONY: demo
demo: local-up ## Converge the local environment (inventories/local) against the stand-in
	$(BIN)/ansible-playbook -i inventories/local playbooks/site.yml

# --- Checks -----------------------------------------------------------------

.PHONY: test
test: lint sanity unit integration molecule docs-check changelog-lint install-check ## Everything CI runs

.PHONY: lint
lint: $(STAMP) ## ansible-lint (profile production), shellcheck
	$(BIN)/ansible-lint
	$(BIN)/shellcheck tools/*.sh .ci/run

.PHONY: sanity
sanity: $(STAMP) ## ansible-test sanity in its own venvs (see tools/sanity.sh)
	ANSIBLE_TEST=$(BIN)/ansible-test tools/sanity.sh

# Unit tests run on every core (pytest-xdist); PYTEST_WORKERS=0 runs them in one process.
PYTEST_WORKERS ?= auto

.PHONY: unit
unit: $(STAMP) ## pytest tests/unit
	$(BIN)/pytest -n $(PYTEST_WORKERS) tests/unit

.PHONY: integration
integration: $(STAMP) $(MLFLOW_STAMP) k8s-build ## pytest tests/integration
	$(BIN)/pytest tests/integration

# Scenarios live in extensions/molecule/<scenario>/ (molecule's collection mode);
# shared settings in extensions/molecule/config.yml. Having none is an error, so
# role coverage cannot silently disappear.
MOLECULE_SCENARIOS = $(sort $(patsubst $(ROOT)/extensions/molecule/%/molecule.yml,%,$(wildcard $(ROOT)/extensions/molecule/*/molecule.yml)))

.PHONY: molecule
molecule: $(STAMP) ## molecule test, every scenario under extensions/molecule/
	@if [ -z "$(MOLECULE_SCENARIOS)" ]; then \
	  echo "no molecule scenario found under extensions/molecule/*/molecule.yml" >&2; exit 1; \
	fi
	cd $(ROOT) && $(BIN)/molecule test --all

.PHONY: docs docs-check
docs: $(STAMP) ## Regenerate docs/configuration.md from the configuration schema
	$(BIN)/python tools/gen_config_docs.py

docs-check: $(STAMP) ## Fail if docs/configuration.md is out of date
	$(BIN)/python tools/gen_config_docs.py --check

.PHONY: changelog-lint
changelog-lint: $(STAMP) ## antsibull-changelog lint (fragments and changelog.yaml)
	$(BIN)/antsibull-changelog lint

# --- Packaging --------------------------------------------------------------

.PHONY: build
build: $(STAMP) ## Build the collection artifact into build/
	mkdir -p $(BUILD)
	$(BIN)/ansible-galaxy collection build --force --output-path $(BUILD) $(ROOT)

# Installs the artifact the way a user would (dependencies come from the venv's
# bundled collections: Galaxy is not assumed reachable) and checks that the
# installed copy, not the working tree, exposes our modules.
.PHONY: install-check
install-check: build ## Install the built artifact into a scratch path and list its modules
	@scratch=$$(mktemp -d); trap 'rm -rf "$$scratch"' EXIT; \
	export ANSIBLE_COLLECTIONS_PATH="$$scratch" ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false; \
	$(BIN)/ansible-galaxy collection install --no-deps $(COLLECTION_TARBALL); \
	modules=$$($(BIN)/ansible-doc --type module --list mlops.platform --json \
	  | $(BIN)/python -c 'import json, sys; print("\n".join(sorted(json.load(sys.stdin))))'); \
	if [ -z "$$modules" ]; then \
	  echo "install-check: the installed $(notdir $(COLLECTION_TARBALL)) provides no module" >&2; exit 1; \
	fi; \
	echo "install-check: the installed $(notdir $(COLLECTION_TARBALL)) provides:"; \
	echo "$$modules" | sed 's/^/  /'

# --- Housekeeping -----------------------------------------------------------

.PHONY: clean
clean: ## Remove build output and caches (keeps .venv/, .venv-mlflow/ and .local/)
	rm -rf $(BUILD) tests/output .pytest_cache .hypothesis
	find . \( -path ./.venv -o -path ./.venv-mlflow \) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
