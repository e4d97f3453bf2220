# The two commands of the README:
#   make demo   - the embedded batch: zoo models on the embedded digits, every analysis, report (offline)
#   make test   - run the test suite
# Each creates the virtual environment .venv on first use.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test lint env docs bench clean

env: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	# torch first, pinned: its CPU build is the one pip finds here; an unpinned torch
	# pulls gigabytes of CUDA packages.
	$(VENV)/bin/python -m pip install --quiet "torch==2.13.0"
	$(VENV)/bin/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/tda-activations run embedded --out runs/demo

test: $(STAMP)
	$(VENV)/bin/python -m pytest -n 2 --dist loadgroup -q

# The quality gates (also run by .ci/run and the pre-commit hooks): lint, formatting, types.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The documentation site (API reference, guides, gallery), built offline with warnings as
# errors; open docs/_build/html/index.html.
DOCS_STAMP := $(VENV)/.docs-installed

$(DOCS_STAMP): $(STAMP)
	$(VENV)/bin/python -m pip install --quiet -e ".[test,docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	TDA_ACTIVATIONS_PROGRESS=0 $(VENV)/bin/python -m sphinx -W --keep-going -b html -q docs docs/_build/html

clean:
	rm -rf $(VENV) runs .tda_cache docs/_build docs/api docs/auto_examples
