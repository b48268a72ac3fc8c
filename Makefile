# `make demo` runs Candor embedded (SQLite, no services); `make test` runs everything against real services.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Override to run two checkouts' suites side by side: make test TEST_DB=candor_other TEST_REDIS_DB=3
TEST_DB ?= candor
TEST_REDIS_DB ?= 0
TEST_ENV := DATABASE_URL=postgres://postgres@127.0.0.1:5432/$(TEST_DB) REDIS_URL=redis://127.0.0.1:6379/$(TEST_REDIS_DB) \
	RABBITMQ_URL=amqp://guest:guest@127.0.0.1:5672/%2F
EMBEDDED_ENV := env -u DATABASE_URL -u REDIS_URL -u RABBITMQ_URL

.PHONY: demo test install lint services chromium lock benchmarks benchmark-api

$(BIN)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	touch $@

install: $(BIN)/.installed

# The demo's sandbox destination is Candor itself on 127.0.0.1 over http: allowed for development only.
demo: EMBEDDED_ENV += DELIVERY_ALLOW_PRIVATE_DESTINATIONS=true
demo: install
	$(EMBEDDED_ENV) $(BIN)/python manage.py migrate --noinput -v0
	$(EMBEDDED_ENV) $(BIN)/python manage.py seed_demo
	$(EMBEDDED_ENV) $(BIN)/python manage.py seed_demo_destinations
	@$(EMBEDDED_ENV) DJANGO_SUPERUSER_PASSWORD=candor-demo $(BIN)/python manage.py createsuperuser \
		--noinput --username admin --email admin@example.com >/dev/null 2>&1 || true
	@echo
	@echo "  Candor is running embedded (SQLite in var/, mail printed here)."
	@echo "  Open http://127.0.0.1:8000/   (staff: http://127.0.0.1:8000/support/sign-in/ as admin@example.com /"
	@echo "  candor-demo, then a TOTP code; the console, /admin/ and /support/sandbox/ are behind it)"
	@$(EMBEDDED_ENV) $(BIN)/python manage.py invite_staff admin 2>/dev/null \
		| sed 's/^/  First time: sign in, then set up the authenticator at /' || true
	@echo
	$(EMBEDDED_ENV) DEBUG=true $(BIN)/python manage.py runserver 127.0.0.1:8000

services:
	scripts/ensure_services.sh $(TEST_DB)

chromium:
	scripts/ensure_chromium.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(EMBEDDED_ENV) $(BIN)/mypy
	$(EMBEDDED_ENV) $(BIN)/python manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=config.settings.production ALLOWED_HOSTS=candor.example SITE_URL=https://candor.example/ \
		DATABASE_URL=postgres://candor@127.0.0.1:5432/candor REDIS_URL=redis://127.0.0.1:6379/0 \
		EMAIL_URL=smtp+ssl://candor:secret@mail.candor.example:465 SMS_BACKEND=none \
		SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(64))') \
		LEDGER_EVIDENCE_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(64))') \
		LEDGER_CHECKPOINT_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(64))') \
		$(BIN)/python manage.py check --deploy --fail-level WARNING

test: install services chromium lint
	$(TEST_ENV) $(BIN)/pytest
	@echo "Smoke test of the embedded SQLite default:"
	$(EMBEDDED_ENV) $(BIN)/pytest -m embedded -q -p no:cacheprovider

# Every script under benchmarks/ that runs as __main__ (the rest are their helpers), one after another at full
# size; the first run of search, decisions and api seeds a million customers (minutes, once). `make test` runs
# each of them once at a tiny size (tests/test_benchmarks.py), so one that no longer runs fails there.
BENCHMARKS := $(shell grep -l '^if __name__ == "__main__":' benchmarks/*.py)
benchmarks: install services
	for script in $(BENCHMARKS); do echo "== $$script"; $(TEST_ENV) $(BIN)/python $$script; done

# The REST API under gunicorn with a million customers (seeded once into <TEST_DB>_bench_api; a few minutes).
benchmark-api: install services
	$(TEST_ENV) $(BIN)/python benchmarks/api.py $(ARGS)

# Re-pin after changing dependencies in pyproject.toml: installs the newest allowed versions and records them.
lock:
	rm -rf $(VENV) && $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip freeze --exclude-editable | grep -v '^-e' > requirements.lock
	touch $(BIN)/.installed
