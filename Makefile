# Two commands on a fresh machine: `make generate`, then `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
STAMP := $(VENV)/.stamp-install
GENERATED := $(sort $(dir $(wildcard generated/*/pyproject.toml)))

.PHONY: generate test check corpus bench demo clean

# Create the venv and install the toolkit, the runtime and every generated client (editable).
$(STAMP): pyproject.toml runtime/pyproject.toml $(wildcard generated/*/pyproject.toml)
	test -x $(PYTHON) || $(PY) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e runtime -e '.[dev]' $(addprefix -e ,$(GENERATED))
	touch $(STAMP)

generate: $(STAMP)
	$(PYTHON) -m codegen generate
	@# A service added since the last install gets installed too.
	@$(MAKE) --no-print-directory $(STAMP)

test: $(STAMP)
	$(PYTHON) -m pytest

check: $(STAMP)
	$(PYTHON) -m codegen generate --check
	$(BIN)/ruff check codegen runtime tests bench
	$(BIN)/ruff format --check codegen runtime tests bench
	$(BIN)/ruff check --isolated --line-length 100 --target-version py310 --extend-select I generated
	$(BIN)/ruff format --check --isolated --line-length 100 --target-version py310 generated
	$(BIN)/mypy --strict codegen runtime/ingest_runtime $(foreach g,$(GENERATED),$(g)$(notdir $(g:/=)))

# Every spec of the real-world corpus: generate, import, ruff, mypy --strict; prints a table.
corpus: $(STAMP)
	$(PYTHON) -m tests.corpus.harness

bench: $(STAMP)
	$(PYTHON) bench/run.py

demo: $(STAMP)
	$(PYTHON) bench/demo.py

clean:
	rm -rf $(VENV) .cache .mypy_cache
