# The two commands of the README: `make reproduce` and `make test`.
# Both create .venv on first use; a stamp file keeps re-runs from reinstalling.
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.simarch-installed
PROFILE ?= mini
# torch and torchvision come from this machine's local wheel store (see README).
TORCH  := torch==2.14.1 torchvision==0.29.1
export TQDM_DISABLE ?= 1

.PHONY: install reproduce test check-sync nbtest pytest check-report bench lab clean

install: $(STAMP)

$(STAMP): setup.py settings.ini
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m pip check
	touch $@

reproduce: $(STAMP)
	$(BIN)/simarch reproduce --profile $(PROFILE)

test: check-sync nbtest pytest

# nbdev_export and nbdev_clean must leave library and notebooks unchanged.
# A notebook saved by a JupyterLab not started with `make lab` carries its metadata: the check cleans it and says so.
check-sync: $(STAMP)
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && cp -r simarch $$tmp/lib && cp -r nbs $$tmp/nbs && \
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean && \
	if diff -r -q -x __pycache__ -x .ipynb_checkpoints $$tmp/lib simarch && \
	   diff -r -q -x .ipynb_checkpoints $$tmp/nbs nbs; then echo "library and notebooks in sync"; \
	else echo "check-sync: nbdev_export and nbdev_clean changed the files above (a notebook saved with editor" \
	  "metadata, or a library edit not exported); they are fixed now: review 'git diff', commit, and run" \
	  "'make test' again. 'make lab' starts a JupyterLab that saves notebooks clean."; exit 1; fi

# Library notebooks under nbdev_test; the paper sections run through `simarch reproduce --profile smoke` in
# pytest (tests/test_sections.py), which also checks the files each section declares.
nbtest: $(STAMP)
	SIMARCH_PROFILE=smoke $(BIN)/nbdev_test --n_workers 2 --skip_folder_re '^([_.]|paper$$)'

pytest: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist worksteal --durations=15 tests

# CI: the committed mini report rendered in headless Chromium (Debian package chromium; .ci/run installs it).
check-report: $(STAMP)
	$(BIN)/python tests/check_report_in_chromium.py figures/$(PROFILE)/report

bench: $(STAMP)
	for f in tests/bench/*.py; do $(BIN)/python $$f || exit 1; done

lab: $(STAMP)
	JUPYTER_CONFIG_PATH=$(CURDIR)/.jupyter $(BIN)/jupyter lab    # from the checkout root, as the save hook needs

clean:
	rm -rf _runs _proc _docs
