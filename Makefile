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

.PHONY: demo test test-fast env mlflow-ui airflow-ui bench clean

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

test: env
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadgroup

test-fast: env
	$(VENV)/bin/pytest -n $(TEST_WORKERS) -m "not slow"

bench: env
	$(VENV)/bin/python benchmarks/tokenize_throughput.py

mlflow-ui: env
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/.mlflow/mlflow.db --port 5000

airflow-ui: env
	eval "$$($(VENV)/bin/rnnflow env)" && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" airflow standalone

clean:
	rm -rf $(VENV) $(TOOLS) .airflow .mlflow data/processed data/runs data/sample data/raw
