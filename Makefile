# Balai: `make run` starts the app on http://127.0.0.1:5000, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
DEMO_PASSWORD ?= balai-demo-2026
# PostgreSQL for the second pass of `make test` (skipped with a message when unreachable, except under CI).
TEST_PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
FLASK := $(BIN)/flask --app wsgi

.PHONY: run test test-sqlite test-postgres lint format install bench clean translations constraints \
	db-upgrade regions seed admin worker

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# constraints.txt pins every package pip installs, the dependencies' dependencies too, so a later
# install gets the versions the tests passed with. `make constraints` renews it after a requirement changes.
$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt | $(BIN)/activate
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $@

install: $(VENV)/.installed

run: install
	$(FLASK) db upgrade
	$(FLASK) regions import
	$(FLASK) seed-demo --password $(DEMO_PASSWORD)
	@echo ""
	@echo "Balai is starting on http://127.0.0.1:$(PORT)/  (staff sign in at http://127.0.0.1:$(PORT)/akun/masuk; Ctrl+C stops it)"
	$(FLASK) run --port $(PORT)

# The README's `flask --app wsgi ...` commands, with the project's virtualenv (no need to activate it).
db-upgrade: install
	$(FLASK) db upgrade

regions: install
	$(FLASK) regions import

seed: install
	$(FLASK) seed-demo --password $(DEMO_PASSWORD)

admin: install
	$(FLASK) users create-admin

worker: install
	$(FLASK) jobs worker

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

# Says why PostgreSQL cannot be used (no server, login refused, no database) instead of guessing.
test-postgres: install
	@status=0; reason=$$($(BIN)/python .ci/postgres_check.py '$(TEST_PG_URL)') || status=$$?; \
	if [ $$status -eq 0 ]; then \
		echo "== tests on PostgreSQL ($${reason%%: reachable})"; \
		TEST_DATABASE_URL='$(TEST_PG_URL)' $(BIN)/pytest -q; \
	else \
		case $$status in \
			10) hint="start it, or set TEST_PG_URL";; \
			11) hint="set TEST_PG_URL with a user and password it accepts (or run .ci/run as root: it sets up a role)";; \
			12) hint="create it (e.g. sudo -u postgres createdb -O <user> test), or set TEST_PG_URL";; \
			*) hint="set TEST_PG_URL";; \
		esac; \
		if [ -n "$$CI" ]; then echo "$$reason: PostgreSQL is required in CI; $$hint"; exit 1; fi; \
		echo "SKIPPED: the PostgreSQL pass. $$reason; $$hint. SQLite results above stand alone."; \
	fi

# Extract UI strings, merge them into the English catalogue, compile it (Indonesian is the source language).
translations: install
	$(BIN)/pybabel extract --no-wrap -F babel.cfg -k _l -k N_ -k lazy_gettext -o app/translations/messages.pot .
	$(BIN)/pybabel update --no-wrap -i app/translations/messages.pot -d app/translations -l en --no-fuzzy-matching
	$(BIN)/pybabel compile -d app/translations -l en

# NATIONAL_SCALE=1 builds the national bench at its full 50 million requests and 10 million residents (an hour or more).
NATIONAL_SCALE ?= 0.1
bench: install
	$(BIN)/python -m bench --national-scale $(NATIONAL_SCALE)

# Renew constraints.txt: a fresh virtualenv gets requirements-dev.txt unconstrained, then pip freeze.
constraints:
	rm -rf .constraints-venv
	$(PYTHON) -m venv .constraints-venv
	.constraints-venv/bin/python -m pip install --quiet --upgrade pip
	.constraints-venv/bin/python -m pip install --quiet -r requirements-dev.txt
	( echo "# Every package \`make install\` installs, at the version the tests passed with (\`make constraints\` renews it)."; \
	  .constraints-venv/bin/python -m pip freeze --exclude-editable ) > constraints.txt
	rm -rf .constraints-venv

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
