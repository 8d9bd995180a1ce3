# Everything a developer runs. Needs only Python 3.10+ on PATH (as python3, or PYTHON=...).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: venv messages demo docs test test-main test-contract test-install test-matrix lint format clean bench bench-full bench-load bench-write

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "qsessions needs Python 3.10 or newer")'
	$(PYTHON) -m venv $(VENV)
	# Dependency groups (pyproject.toml) need pip 25.1 or newer; a new virtualenv may bring an older one.
	$(BIN)/python -m pip install --quiet --upgrade 'pip>=25.1'
	$(BIN)/python -m pip install --quiet -e . --group dev
	touch $(STAMP)

venv: $(STAMP)

# The test targets also install the drivers for the servers tests/services.py can select: the
# `services` group always (wheels only), the `mysql` group (mysqlclient, built against libmariadb-dev)
# only when QSESSIONS_TEST_DB=mysql, so that a machine with only Python runs `make test`.
TEST_GROUPS := services$(if $(filter mysql,$(QSESSIONS_TEST_DB)),-mysql)
TEST_STAMP := $(VENV)/.installed-$(TEST_GROUPS)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet $(foreach group,$(subst -, ,$(TEST_GROUPS)),--group $(group))
	touch $@

## make messages: update the translation catalogues (src/qsessions/locale/*/LC_MESSAGES/django.po) from the
## code and templates, then compile them to the .mo files the repository and the wheel ship. Needs GNU gettext
## (Debian: apt-get install gettext); nothing else does, since the compiled catalogues are committed.
LANGUAGES := de es fa fr it nl pl pt_BR ru zh_Hans

messages: $(STAMP)
	cd src/qsessions && ../../$(BIN)/django-admin makemessages --no-obsolete --add-location=file $(addprefix -l ,$(LANGUAGES))
	cd src/qsessions && ../../$(BIN)/django-admin compilemessages

## make demo [PORT=8000]: the example site on http://127.0.0.1:$(PORT)/ (admin at /admin/), SQLite + local
## memory cache. A virtualenv of its own with qsessions and its dependencies only, none of the tools above.
PORT ?= 8000
DEMO_VENV ?= .venv-demo
DEMO_STAMP := $(DEMO_VENV)/.installed

$(DEMO_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "qsessions needs Python 3.10 or newer")'
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e .
	touch $@

demo: $(DEMO_STAMP)
	cd example && ../$(DEMO_VENV)/bin/python manage.py migrate --noinput
	cd example && ../$(DEMO_VENV)/bin/python manage.py demo_user --port $(PORT)
	cd example && ../$(DEMO_VENV)/bin/python manage.py runserver 127.0.0.1:$(PORT)

## make test: the whole suite (SQLite + local memory cache unless QSESSIONS_TEST_DB/QSESSIONS_TEST_CACHE say otherwise)
test: test-main test-contract

test-main: $(TEST_STAMP)
	$(BIN)/pytest tests

# Django's own session-backend tests against our engines (see docs/architecture.md, "Testing").
test-contract: $(TEST_STAMP)
	$(BIN)/python scripts/fetch_django_tests.py
	QSESSIONS_TEST_CONTRACT=1 $(BIN)/pytest tests/test_django_contract.py

## make test-install: README's install on a fresh startproject, and `make demo` in a fresh copy, each in a
## virtualenv of its own (about a minute; the package index the first time)
test-install: $(TEST_STAMP)
	QSESSIONS_TEST_INSTALL=1 $(BIN)/pytest tests/test_install.py

## make test-matrix: main + contract suites on Python 3.10/Django 5.2, 3.11/5.2, 3.12/6.0, 3.13/6.1 (nox, see noxfile.py)
test-matrix: $(STAMP)
	$(BIN)/nox

## make bench: qsessions against Django's engines, django-qsessions 2.1.0 and django-user-sessions 2.0.0
## (SQLite + local memory, a few minutes); writes benchmarks/results/latest.md and latest.json
bench:
	$(PYTHON) benchmarks/run.py --aa

## make bench-full: the same, then PostgreSQL + Redis with the large scenarios (1,000,000-row clearsessions)
bench-full:
	$(PYTHON) benchmarks/run.py --full --aa

## make bench-load [LOAD_ARGS=...]: qsessions' engines against Django's of the same kind under load
## (cached_db, then the cache-only engine): gunicorn, PostgreSQL + Redis, about eight minutes; writes
## benchmarks/results/load.md and load-cache.md (see docs/benchmarks.md), and fails when a target is missed,
## after running both. With LOAD_ARGS (say --aa, the A/A run: ours on both sides), one run of
## benchmarks/load.py with those options only.
LOAD_ARGS ?=
BENCH_LOAD_STAMP := $(VENV)/.installed-bench-load

$(BENCH_LOAD_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --group bench-load
	touch $@

bench-load: $(BENCH_LOAD_STAMP)
	@if [ -n "$(LOAD_ARGS)" ]; then $(BIN)/python benchmarks/load.py $(LOAD_ARGS); else \
	$(BIN)/python benchmarks/load.py --kind cached_db; status=$$?; \
	$(BIN)/python benchmarks/load.py --kind cache && exit $$status; fi

## make bench-write: a session write on PostgreSQL before and after migration 0007 (benchmarks/write_cost.py)
bench-write: $(TEST_STAMP)
	$(BIN)/python benchmarks/write_cost.py

## make docs: the documentation site (MkDocs, mkdocs.yml) into .cache/site, every warning an error. A
## virtualenv of its own with the `docs` dependency group only (pyproject.toml).
DOCS_VENV ?= .venv-docs
DOCS_STAMP := $(DOCS_VENV)/.installed

$(DOCS_STAMP): pyproject.toml
	$(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(DOCS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --group docs
	touch $@

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(DOCS_VENV)/bin/mkdocs build --strict

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) $(DEMO_VENV) $(DOCS_VENV) .nox .cache .mypy_cache .ruff_cache .pytest_cache example/db.sqlite3
