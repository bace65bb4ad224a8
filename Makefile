# corelab: make demo | make test | make lab. Each target first brings .venv up to date (install/venv.py):
# made by PYTHON when PYTHON is given (make PYTHON=python3.13 test rebuilds a 3.11 .venv), else by
# whatever made it; with pip; with the versions in install/constraints/ for that Python.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.corelab-stamp.json
# PYTHON named on the command line or in the environment is a request for that interpreter.
EXPLICIT := $(if $(filter command line environment,$(origin PYTHON)),--explicit)

.PHONY: demo test smoke lab check lint format notebooks lock clean node-packages $(STAMP)

$(STAMP):
	@$(PYTHON) -m plumbing.platform_check
	@$(PYTHON) install/venv.py --venv $(VENV) $(EXPLICIT)

demo: $(STAMP)
	$(BIN)/python -m corelab demo

# The Node variants' npm packages, into servers/node/node_modules from package-lock.json (free when
# up to date). Where that fails the Node variants and their tests are skipped with the reason.
node-packages: $(STAMP)
	-@$(BIN)/python -m servers.node.packages

test: $(STAMP) lint node-packages
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Each notebook's source is notebooks/NN-title.py: this remakes the .ipynb beside it (no outputs).
notebooks: $(STAMP)
	$(BIN)/jupytext --update --to ipynb notebooks/[0-9][0-9]-*.py

# Root (a container, WSL's default user) needs --allow-root, or Jupyter refuses to start.
lab: $(STAMP) node-packages
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

# make check LAB=NN: lab NN's check on the code in labs/NN-name/ (python -m corelab lab check NN).
check: $(STAMP)
	$(if $(LAB),,$(error make check needs a lab: make check LAB=01 (python -m corelab lab list shows them)))
	@$(BIN)/python -m corelab lab check "$(LAB)"

# make lock: rewrite install/constraints/cpXY.txt for every supported Python found here (or PYTHONS="...").
PYTHONS ?= $(shell $(PYTHON) install/venv.py --find-pythons)
lock:
	@for python in $(PYTHONS); do $$python install/venv.py --lock || exit 1; done

# make smoke PYTHON=python3.13 VENV=.venv-3.13: what CI runs on each Python besides the default one.
# The unit tests, the Redis server's and one Redis lesson's notebook (09), and notebook 02.
SMOKE_TESTS := tests/test_load_plan.py tests/test_claim.py tests/test_layers.py tests/test_lazy_import.py \
	tests/test_top_layout.py tests/test_figures_at_scale.py tests/test_parallel.py tests/test_venv_setup.py \
	tests/test_redis_server.py tests/test_notebook_shared_state.py \
	tests/test_notebooks_foundation.py::test_02_every_core_runs_and_the_cluster_wins
smoke: $(STAMP) node-packages
	$(BIN)/python -m pytest -q $(SMOKE_TESTS)
	$(BIN)/python -m corelab demo

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache
