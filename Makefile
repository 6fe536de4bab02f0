# The README's commands. `make run` on a fresh machine: install, migrate, seed, start.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install system-packages migrate seed run test test-fast lint format bench clean screenshots

$(STAMP): requirements.txt requirements-dev.txt requirements-models.txt scripts/install.sh
	@PYTHON=$(PYTHON) bash scripts/install.sh
	@touch $(STAMP)

# Debian packages first (installed when root; otherwise the apt-get line to run), then .venv.
install: system-packages $(STAMP)

system-packages:
	@bash scripts/install-system.sh

migrate: install
	@if [ -n "$$DATABASE_URL" ]; then $(PY) manage.py db_bootstrap; fi
	@$(PY) manage.py migrate_all

seed: migrate
	@$(PY) manage.py seed_demo

# The first screen: what starts, the URL, where the logins are (never the password), where
# the chatty LLM servers log. Then every process's own lines, prefixed by honcho.
run: seed
	@echo
	@echo "Starting Callseal (honcho, Procfile): the web console and Twilio webhooks (daphne),"
	@echo "a Celery worker per region (restarted if it dies) and beat, and per region the speech"
	@echo "service (ASR/TTS) and the LLM server. Calls are answered once the models have loaded."
	@echo
	@echo "  Console:  http://127.0.0.1:$${CALLSEAL_PORT:-8000}/"
	@echo "  Logins:   the usernames above; the password is in the credentials file named there"
	@echo "  LLM logs: $${CALLSEAL_VAR_DIR:-var}/log/llm-<region>.log"
	@echo
	@$(VENV)/bin/honcho start -f Procfile

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Browser tests write var/screenshots/; this copies them into the README's docs/screenshots/.
screenshots: install
	$(PY) -m pytest -q tests/browser/test_console_flows.py
	mkdir -p docs/screenshots
	cp var/screenshots/dashboard.png var/screenshots/calls.png var/screenshots/call-detail.png \
	   var/screenshots/agent.png var/screenshots/test-call.png docs/screenshots/
	# The live transcript flow runs in servers mode only (a shared channel layer).
	if [ -f var/screenshots/live-call.png ]; then cp var/screenshots/live-call.png docs/screenshots/; fi

bench: install
	$(PY) -m benchmarks

clean:
	rm -rf var var-secrets .pytest_cache .mypy_cache .ruff_cache
