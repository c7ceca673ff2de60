# Two commands do all the set-up on a fresh machine:
#   make demo   - create the environment if needed, then run the NSMC pipeline end to end
#   make test   - create the environment if needed, then run the whole test suite
# For the inner loop: make test-fast (no training beyond a few steps, no scheduler, no servers).
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

.PHONY: demo test test-fast deploy-test docker-engine env browser mlflow-ui airflow-ui bench clean

# uv itself comes from PyPI into a private venv, pinned, so nothing is installed by hand.
$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(SYNCED): $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --all-extras --python $(PYTHON)
	touch $@

env: $(SYNCED)

demo: env
	$(VENV)/bin/rnnflow demo

# The UI test drives Debian's chromium through Debian's chromedriver: no browser can be downloaded
# at test time. Installed when missing and possible (root with apt-get); otherwise the UI test says
# so and skips (CI, with RNNFLOW_REQUIRE_SERVICES=1, fails it instead).
BROWSER_PACKAGES := chromium chromium-driver
browser:
	@command -v chromedriver >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		{ DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null 2>&1 || \
		  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null; }; }; } || \
		echo "note: chromium and chromedriver are missing and cannot be installed here: the UI test will skip"

# The deployment test builds the images and runs docker/compose.yaml on this host's Docker engine
# (tests/deploy; it starts dockerd when none runs). Debian's packages are installed when missing
# and possible, as for the browser; otherwise the test says so and skips (CI fails it instead).
DOCKER_PACKAGES := docker.io docker-compose debootstrap
docker-engine:
	@{ command -v dockerd >/dev/null && command -v docker-compose >/dev/null && command -v debootstrap >/dev/null; } || \
		{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		{ DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DOCKER_PACKAGES) >/dev/null 2>&1 || \
		  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DOCKER_PACKAGES) >/dev/null; }; }; } || \
		echo "note: a Docker engine, docker-compose or debootstrap is missing and cannot be installed here: the deployment test will skip"

test: env browser docker-engine
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadgroup

deploy-test: env docker-engine
	$(VENV)/bin/pytest -m deploy -p no:randomly -s tests/deploy

test-fast: env
	$(VENV)/bin/pytest -n $(TEST_WORKERS) -m "not slow"

bench: env
	$(VENV)/bin/python benchmarks/tokenize_throughput.py

# MLflow's server with rnnflow's landing page (pipeline/mlflow_app.py): it opens on the training runs.
mlflow-ui: env
	eval "$$($(VENV)/bin/rnnflow env)" && $(VENV)/bin/mlflow server --app-name rnnflow \
		--backend-store-uri "$$MLFLOW_TRACKING_URI" --host 127.0.0.1 --port 5000 --workers 1

airflow-ui: env
	eval "$$($(VENV)/bin/rnnflow env)" && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" airflow standalone

clean:
	rm -rf $(VENV) $(TOOLS) .airflow .mlflow data/processed data/runs data/sample data/raw
