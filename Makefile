# smsportal: `make run` starts everything on embedded defaults; `make test`
# runs the whole suite on PostgreSQL and Redis (started here when not given).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint install lock clean bench

$(BIN)/.installed: requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	# Compile once: with PYTHONDONTWRITEBYTECODE set, every new process
	# (each worker) would otherwise recompile phonenumbers' large data modules.
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib >/dev/null || true
	touch $@

install: $(BIN)/.installed

run: $(BIN)/.installed
	mkdir -p var
	# Writes .env (with its SECRET_KEY) on first start: until then, DEBUG.
	DEBUG=true $(BIN)/python manage.py init_env
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo
	$(BIN)/python manage.py runstack

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(BIN)/.installed
	bash tests/run-suite.sh

# The eight performance scenarios against limits measured in the same run
# (starts PostgreSQL, Redis, gunicorn, Celery workers and provider mocks
# itself); SCALE=full for 1M contacts/recipients and 10M message rows.
SCALE ?= quick
bench: $(BIN)/.installed
	$(BIN)/python -m bench.run --scale $(SCALE)

# The lock is made from pyproject.toml, the one list of dependencies.
lock:
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

clean:
	rm -rf $(VENV) var/*.sqlite3* var/broker test-artifacts
