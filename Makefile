# Two commands do all the set-up on a fresh machine:
#   make demo   - create the environment if needed, then run the NSMC pipeline end to end
#   make test   - create the environment if needed, then run the whole test suite
# For the inner loop: make test-fast (no training beyond a few steps, no scheduler, no servers) and
# make lint (ruff and mypy, which make test also runs).
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
# make test and test-fast run on this many pytest-xdist workers; the real-service tests share one
# (xdist_group).
TEST_WORKERS ?= 2
SYNCED := $(VENV)/.rnnflow-synced
export UV_PYTHON_DOWNLOADS := never

.PHONY: demo test test-fast lint docs deploy-test docker-engine env browser mlflow-ui airflow-ui bench clean

# uv itself comes from PyPI into a private venv, pinned, so nothing is installed by hand.
$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# --compile-bytecode: uv, unlike pip, leaves the .pyc files to the first import, and where
# PYTHONDONTWRITEBYTECODE is set (it is on some machines) every process compiles Keras, TensorFlow,
# MLflow and Airflow from source again: 16.7 s against 7.2 s to import them (medians of 3, 2 cores),
# for 22 s once here and 0.4 GB of .pyc files. The Makefile is a prerequisite so that a change to
# this command reaches checkouts that synced before it.
$(SYNCED): $(UV) pyproject.toml uv.lock Makefile
	$(UV) sync --locked --all-extras --compile-bytecode --python $(PYTHON)
	touch $@

env: $(SYNCED)

demo: env
	$(VENV)/bin/rnnflow demo

# Debian packages $(1) when the commands $(2) are missing and this is root with apt-get (tried
# from the cached index first, then after an update); otherwise a note that $(3) will skip (CI,
# with RNNFLOW_REQUIRE_SERVICES=1, fails it instead).
define install_when_missing
	@( for command in $(2); do command -v $$command >/dev/null || exit 1; done ) || \
		{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		{ DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null 2>&1 || \
		  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null; }; }; } || \
		echo "note: $(2) missing and cannot be installed here: $(3) will skip"
endef

# The UI test drives Debian's chromium through Debian's chromedriver: no browser can be downloaded
# at test time.
browser:
	$(call install_when_missing,chromium chromium-driver,chromedriver,the UI test)

# The deployment test builds the images and runs docker/compose.yaml on this host's Docker engine
# (tests/deploy; it starts dockerd when none runs).
docker-engine:
	$(call install_when_missing,docker.io docker-compose debootstrap,dockerd docker-compose debootstrap,the deployment test)

LINTED := pipeline models dags tests benchmarks

lint: env
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/mypy

# docs/configuration.md from the config schema (a test fails when it is stale).
docs: env
	$(VENV)/bin/python -m pipeline.config.reference

test: lint browser docker-engine
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadgroup

deploy-test: env docker-engine
	$(VENV)/bin/pytest -m deploy -p no:randomly -s tests/deploy

test-fast: env
	$(VENV)/bin/pytest -n $(TEST_WORKERS) -m "not slow"

bench: env
	$(VENV)/bin/python benchmarks/tokenize_throughput.py

# MLflow's server with rnnflow's landing page (pipeline/tracking/mlflow_app.py): it opens on the training runs.
mlflow-ui: env
	eval "$$($(VENV)/bin/rnnflow env)" && $(VENV)/bin/mlflow server --app-name rnnflow \
		--backend-store-uri "$$MLFLOW_TRACKING_URI" --host 127.0.0.1 --port 5000 --workers 1

airflow-ui: env
	eval "$$($(VENV)/bin/rnnflow env)" && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" airflow standalone

clean:
	rm -rf $(VENV) $(TOOLS) .airflow .mlflow data/processed data/runs data/sample data/raw
