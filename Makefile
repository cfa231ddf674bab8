# QIPP challenge feedback portal. `make help` lists the targets.

# The first Python 3.12 or newer on the PATH (Django 6.1 needs 3.12).
PYTHON ?= $(shell for p in python3.13 python3.12 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; \
	then echo $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
WEB_PORT ?= 8000
# Development: debug on, and two-factor relaxed for accounts without a device
# (the demo login) so the portal runs with one command.
DEV_ENV := DJANGO_DEBUG=1 QIPP_RELAX_TWO_FACTOR=1 SITE_URL=http://127.0.0.1:$(WEB_PORT)

.PHONY: help run demo manage shell lock test test-browser lint format worker beat bench bench-quick profile faults faults-hosts faults-quick migrations-check check-deploy assets clean
.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# Every package pinned with its hashes (make lock writes the lock files from requirements*.txt).
$(BIN)/.installed: requirements-dev.lock
	@test -n "$(PYTHON)" || { echo "Python 3.12 or newer is needed (Django 6.1). Install it, or with pyenv: pyenv install 3.12" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	touch $@

LOCK := $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links

lock: $(BIN)/.installed ## After changing requirements*.txt: pin every package with its hashes in the lock files
	$(LOCK) --output-file requirements.lock requirements.txt
	$(LOCK) --output-file requirements-dev.lock requirements-dev.txt

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

build/static/css/portal.css: node_modules/.installed $(wildcard static/scss/*.scss)
	npm run build

assets: build/static/css/portal.css ## Build the NHS.UK design system styles and scripts

run: $(BIN)/.installed assets ## Run the portal: web, Celery worker and beat, on http://127.0.0.1:8000/
	$(DEV_ENV) $(BIN)/python manage.py migrate --noinput
	@$(DEV_ENV) $(BIN)/python manage.py ensure_demo_login
	@echo "Emails are written to var/sent-emails/ (a file for each connection to the mail backend)."
	@echo "Portal: http://127.0.0.1:$(WEB_PORT)/   (Ctrl-C stops web, worker and beat)"
	@$(DEV_ENV) WEB_PORT=$(WEB_PORT) PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho -f Procfile.dev start

demo: $(BIN)/.installed assets ## Like run, on a portal filled with demo data: submissions, themes, mail to sort, digests and the weekly email
	$(DEV_ENV) $(BIN)/python manage.py migrate --noinput
	@$(DEV_ENV) $(BIN)/python manage.py prepare_demo
	@echo "Portal: http://127.0.0.1:$(WEB_PORT)/   (Ctrl-C stops web, worker and beat)"
	@$(DEV_ENV) WEB_PORT=$(WEB_PORT) PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho -f Procfile.dev start

manage: $(BIN)/.installed ## Run a management command with the development settings: make manage ARGS="compile_digest --week 2026-W47"
	$(DEV_ENV) $(BIN)/python manage.py $(ARGS)

shell: $(BIN)/.installed ## A Django shell with the development settings
	$(DEV_ENV) $(BIN)/python manage.py shell

worker: $(BIN)/.installed ## Run a Celery worker on its own
	$(BIN)/celery -A qipp_portal worker --loglevel=INFO

beat: $(BIN)/.installed ## Run Celery beat on its own (exactly one per deployment)
	$(BIN)/celery -A qipp_portal beat --loglevel=INFO

test: $(BIN)/.installed assets ## Run the whole test suite (uses DATABASE_URL / CELERY_BROKER_URL when set)
	$(BIN)/pytest

test-browser: $(BIN)/.installed node_modules/.installed assets ## Journeys and WCAG 2.2 AA checks in Chromium (/usr/bin/chromium); screenshots in var/browser-artefacts/
	$(BIN)/pytest -m browser tests/browser

bench: $(BIN)/.installed assets ## Measure the portal against ceilings in the same run (100k and 1M rows; long)
	cd bench && ../$(BIN)/python run.py $(BENCH_ARGS)

bench-quick: $(BIN)/.installed assets ## The benchmark at 100k rows, fewer rounds (a few minutes)
	cd bench && ../$(BIN)/python run.py --quick $(BENCH_ARGS)

profile: $(BIN)/.installed assets ## Where the form page GET and the submission POST spend their time (cProfile)
	cd bench && ../$(BIN)/python profile_respondent.py

faults: $(BIN)/.installed ## Fault injection: the one-machine scenarios, then the portal on several hosts (about 17 minutes, as root)
	$(BIN)/python -m faults.run $(FAULTS_ARGS)
	$(BIN)/python -m faults.hosts

faults-hosts: $(BIN)/.installed ## The multi-host scenario alone: network namespaces as hosts, one cut off (about 7 minutes, as root)
	$(BIN)/python -m faults.hosts

faults-quick: $(BIN)/.installed ## The fault suite's quick scenarios: one token posted 100 times, beat twice, a Redis outage
	$(BIN)/python -m faults.run --quick $(FAULTS_ARGS)

lint: $(BIN)/.installed ## Check code style with ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/.installed ## Format the code with ruff
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrations-check: $(BIN)/.installed ## Fail if a model change has no migration
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/python manage.py makemigrations --check --dry-run

check-deploy: $(BIN)/.installed ## Django's deployment checks with production settings
	env -u DJANGO_DEBUG SECRET_KEY=check-deploy-$$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9') \
		ALLOWED_HOSTS=qipp.example.nhs.uk QIPP_SINGLE_HOST=1 $(BIN)/python manage.py check --deploy --fail-level WARNING

clean: ## Remove the virtualenv, node modules, built assets and local state
	rm -rf $(VENV) node_modules build staticfiles var
