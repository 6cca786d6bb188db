# Set-up is automatic: every target creates .venv and installs the project when needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run chat test check bench format clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)  ## run the bot: Telegram with TELEGRAM_BOT_TOKEN, else the terminal chat
	@$(PY) -m bot run

chat: $(STAMP)  ## the terminal chat
	@$(PY) -m bot chat

test: $(STAMP)  ## the whole test suite
	@$(PY) -m pytest

check: $(STAMP)  ## formatting, lint, types, then the tests
	$(VENV)/bin/ruff format --check bot scheduler tests
	$(VENV)/bin/ruff check bot scheduler tests
	$(VENV)/bin/mypy
	$(PY) -m pytest

bench: $(STAMP)  ## benchmarks: one JSON object per line
	@$(PY) -m tests.bench

format: $(STAMP)
	$(VENV)/bin/ruff format bot scheduler tests
	$(VENV)/bin/ruff check --fix bot scheduler tests

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
