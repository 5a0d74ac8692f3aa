# Balai: `make run` starts the app on http://127.0.0.1:5000, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
DEMO_PASSWORD ?= balai-demo-2026
# PostgreSQL for the second pass of `make test` (skipped with a message when unreachable, except under CI).
TEST_PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
FLASK := $(BIN)/flask --app wsgi

.PHONY: run test test-sqlite test-postgres lint format install bench clean translations

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/activate
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

run: install
	$(FLASK) db upgrade
	$(FLASK) regions import
	$(FLASK) seed-demo --password $(DEMO_PASSWORD)
	$(FLASK) run --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint test-sqlite test-postgres

test-sqlite: install
	@echo "== tests on SQLite"
	$(BIN)/pytest -q

test-postgres: install
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(TEST_PG_URL)'.replace('+psycopg',''), connect_timeout=3).close()" 2>/dev/null; then \
		echo "== tests on PostgreSQL ($(TEST_PG_URL))"; \
		TEST_DATABASE_URL=$(TEST_PG_URL) $(BIN)/pytest -q; \
	elif [ -n "$$CI" ]; then \
		echo "PostgreSQL at $(TEST_PG_URL) is required in CI"; exit 1; \
	else \
		echo "SKIPPED: the PostgreSQL pass (no server at $(TEST_PG_URL)); SQLite results above stand alone."; \
	fi

# Extract UI strings, merge them into the English catalogue, compile it (Indonesian is the source language).
translations: install
	$(BIN)/pybabel extract --no-wrap -F babel.cfg -k _l -k N_ -k lazy_gettext -o app/translations/messages.pot .
	$(BIN)/pybabel update --no-wrap -i app/translations/messages.pot -d app/translations -l en --no-fuzzy-matching
	$(BIN)/pybabel compile -d app/translations -l en

# NATIONAL_SCALE=1 builds the national bench at its full 50 million requests (an hour or more).
NATIONAL_SCALE ?= 0.1
bench: install
	$(BIN)/python -m bench --national-scale $(NATIONAL_SCALE)

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
