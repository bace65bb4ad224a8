# corelab: make demo | make test | make lab. Each target creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lab check lint format notebooks clean

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("corelab needs Python 3.11 or newer (found %s); set PYTHON=python3.x" % sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m corelab demo

test: $(STAMP) lint
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

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

# make check LAB=NN: lab NN's check on the code in labs/NN-name/ (python -m corelab lab check NN).
check: $(STAMP)
	$(if $(LAB),,$(error make check needs a lab: make check LAB=01 (python -m corelab lab list shows them)))
	@$(BIN)/python -m corelab lab check "$(LAB)"

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache
