# genlab: two commands on a fresh clone (Python >= 3.11 is all you need).
#   make demo   builds .venv and runs `genlab demo` on the data shipped in data/
#   make test   builds .venv and runs the whole test suite (what .ci/run calls)
# Both work offline once the packages are installed; nothing downloads data at run time.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=
# one test worker per core (at most 4), each test file on one worker: most of a test's
# time is one core compiling XLA programs, so two cores run the suite in about half the time
XDIST ?= -n auto --maxprocesses 4 --dist loadfile

.PHONY: demo test test-fast lab env clean

$(BIN)/genlab-env-ok: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "genlab needs Python >= 3.11, this is " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

env: $(BIN)/genlab-env-ok

demo: env
	$(BIN)/genlab demo

# pytest exits 5 when it collects no test: that is a failure here, not a pass.
test: env
	@$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "genlab: pytest collected no tests: failing on purpose"; exit 1; fi; \
	exit $$rc

test-fast: env
	@$(MAKE) --no-print-directory test PYTEST_ARGS='-m "not slow" $(PYTEST_ARGS)'

# Student notebooks without grading the solutions (seconds): instructors and CI check those
# (genlab assign without --no-check; tests/test_labs_gate.py).
lab: env
	$(BIN)/python -m pip install --quiet -e '.[dev,notebook]'
	$(BIN)/genlab assign --no-check
	$(BIN)/jupyter lab dist/

clean:
	rm -rf $(VENV) runs dist .pytest_cache
