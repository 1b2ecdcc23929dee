# dslab: every set-up step a fresh machine needs is here.
#
#   make book       create .venv, install, build the HTML book into _build/html
#   make test       every test: ruff, pytest (unit, cluster, property, determinism), nbval over
#                   every chapter, a clean book build with warnings as errors, and the built book
#                   in headless Chromium (tests/test_browser.py)
#   make lab        open the chapters in JupyterLab
#   make bench      run every benchmarks/bench_*.py and print its figures
#   make notebooks  re-execute every chapter notebook in place (then commit the outputs)
#   make clean      remove build and test caches (keeps .venv; `make distclean` removes it too)
#
# PYTHONHASHSEED is deliberately left alone: the same seed must give the same history under any
# hash seed, and the determinism tests check exactly that.

PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
STAMP  := $(VENV)/.stamp
# Put the venv first on PATH for the steps that start kernels or Sphinx, so that the `python3`
# kernel (and anything else found on PATH) is the venv's.
WITH_VENV := PATH="$(BIN):$$PATH"
JB_BUILD  := $(WITH_VENV) $(BIN)/jupyter-book build . -W -n --keep-going

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.PHONY: help venv book test lab bench notebooks clean distclean

help:
	@echo "make book       build the HTML book into _build/html (creates .venv on first use)"
	@echo "make test       ruff, pytest, nbval, the -W book build, the book in Chromium"
	@echo "make lab        open the chapters in JupyterLab"
	@echo "make bench      run the benchmarks"
	@echo "make notebooks  re-execute every chapter notebook in place"
	@echo "make clean      remove build and test caches (make distclean also removes .venv)"

venv: $(STAMP)

# Reinstalls only when pyproject.toml changes (or the stamp is missing). The last step registers
# the venv's own interpreter as the `python3` kernel (absolute path in kernel.json), inside the
# venv, so nbval and JupyterLab never pick up another Python.
$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --upgrade pip
	$(VENV)/bin/python -m pip install -e ".[book,test]"
	$(VENV)/bin/python -m ipykernel install --sys-prefix --name python3 \
		--display-name "Python 3 (ipykernel)"
	touch $(STAMP)

book: venv
	rm -rf _build
	$(JB_BUILD)
	@echo "Open _build/html/index.html"
	@echo "  (file://$(CURDIR)/_build/html/index.html)"

# In order: lint, the pytest suite on 2 workers with a non-interactive matplotlib, nbval (strict:
# every committed output must be reproduced; the kernel keeps its inline backend, so MPLBACKEND is
# unset; a cell that runs past 300 s is a failure, not a hung CI), then a clean book build with
# warnings as errors, and last the book just built, page by page, in headless Chromium with every
# request to another host blocked (tests/test_browser.py; the earlier pytest run leaves it out,
# since the book it would check is not built yet). Under CI (CI=true, where .ci/run has installed
# them) a missing redis-server, ZooKeeper, Chromium or book is a failure
# (DSLAB_REQUIRE_REAL / DSLAB_REQUIRE_BROWSER); elsewhere those tests skip and say why. pytest's
# exit status 5 ("no tests ran") fails a step like any other non-zero status.
REQUIRE := $(if $(filter true 1,$(CI)),1,)
test: venv
	$(BIN)/ruff check $(wildcard dslab tests benchmarks)
	DSLAB_REQUIRE_REAL=$(REQUIRE) MPLBACKEND=Agg $(WITH_VENV) $(BIN)/python -m pytest -n 2 tests \
		-m "not browser"
	env -u MPLBACKEND $(WITH_VENV) $(BIN)/python -m pytest --nbval chapters/*.ipynb \
		-p no:randomly --nbval-sanitize-with nbval_sanitize.cfg --nbval-cell-timeout=300
	rm -rf _build && $(JB_BUILD)
	DSLAB_REQUIRE_BROWSER=$(REQUIRE) $(BIN)/python -m pytest tests/test_browser.py -m browser \
		-p no:randomly -p no:xdist

lab: venv
	$(WITH_VENV) $(BIN)/jupyter lab chapters/

bench: venv
	@for f in $(sort $(wildcard benchmarks/bench_*.py)); do \
		echo "== $$f"; \
		$(BIN)/python "$$f"; \
	done

# Same kernel and environment as nbval in `make test`; no timing metadata, so that re-running an
# unchanged notebook leaves no diff.
notebooks: venv
	for nb in chapters/*.ipynb; do \
		env -u MPLBACKEND $(WITH_VENV) $(BIN)/jupyter nbconvert --to notebook --execute \
			--inplace --ExecutePreprocessor.record_timing=False "$$nb"; \
	done

clean:
	rm -rf _build .pytest_cache .ruff_cache .hypothesis .jupyter_cache benchmarks/out
	rm -rf *.egg-info
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name .ipynb_checkpoints \) \
		-type d -print0 | xargs -0 rm -rf

distclean: clean
	rm -rf $(VENV)
