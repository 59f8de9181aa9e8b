#!/usr/bin/env bash
# The whole suite: lint, migrations check, and pytest on PostgreSQL and Redis
# with browser tests in Debian's Chromium. Servers not given through
# DATABASE_URL / REDIS_URL are started here on loopback, in throw-away
# directories, and stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
WORK=$(mktemp -d /tmp/smsportal-test.XXXXXX)
chmod 755 "$WORK"
PIDS=()

cleanup() {
  if [ -n "${PGDATA_DIR:-}" ] && [ -d "$PGDATA_DIR" ]; then
    as_postgres pg_ctl -D "$PGDATA_DIR" -m immediate stop >/dev/null 2>&1 || true
  fi
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  # A test may have restarted Redis: stop whatever serves the port now.
  [ -n "${REDIS_PORT:-}" ] && redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

apt_install() {
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "Installing $* with apt-get"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pg_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/pg_ctl" ] && { echo "$dir"; return; }
  done
  command -v pg_ctl >/dev/null && dirname "$(command -v pg_ctl)"
}

# PostgreSQL refuses to run as root: run it as the postgres user then.
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- env PATH="$PG_BIN:$PATH" "$@"
  else
    env PATH="$PG_BIN:$PATH" "$@"
  fi
}

free_port() {
  "$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

echo "== lint"
"$BIN/ruff" check .
"$BIN/ruff" format --check .

if [ -z "${DATABASE_URL:-}" ]; then
  PG_BIN=$(pg_bin || true)
  if [ -z "$PG_BIN" ]; then
    apt_install postgresql
    PG_BIN=$(pg_bin)
  fi
  PGDATA_DIR="$WORK/pgdata"
  mkdir -p "$PGDATA_DIR"
  [ "$(id -u)" -eq 0 ] && chown postgres "$PGDATA_DIR" "$WORK"
  PGPORT=$(free_port)
  as_postgres initdb -D "$PGDATA_DIR" -U postgres -A trust -E UTF8 --no-locale >/dev/null
  as_postgres pg_ctl -D "$PGDATA_DIR" -l "$WORK/postgres.log" -w \
    -o "-h 127.0.0.1 -p $PGPORT -k $WORK -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null
  as_postgres createdb -h 127.0.0.1 -p "$PGPORT" -U postgres smsportal
  export DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/smsportal"
  # The fault tests stop and start this server during a campaign.
  export SMSPORTAL_TEST_PG="$PG_BIN|$PGDATA_DIR|$PGPORT|$WORK"
  echo "== PostgreSQL on 127.0.0.1:$PGPORT"
fi

if [ -z "${REDIS_URL:-}" ]; then
  command -v redis-server >/dev/null || apt_install redis-server
  REDIS_PORT=$(free_port)
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$WORK" --daemonize no >"$WORK/redis.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 50); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
  export SMSPORTAL_TEST_REDIS="$REDIS_PORT|$WORK"
  echo "== Redis on 127.0.0.1:$REDIS_PORT"
fi
export CELERY_BROKER_URL="${CELERY_BROKER_URL:-${REDIS_URL%/*}/1}"
export CACHE_URL="${CACHE_URL:-${REDIS_URL%/*}/2}"

[ -x /usr/bin/chromium ] || apt_install chromium

echo "== migrations are complete"
DJANGO_SETTINGS_MODULE=tests.settings "$BIN/python" manage.py makemigrations --check --dry-run

echo "== pytest"
mkdir -p test-artifacts/screenshots
"$BIN/python" -m pytest -p no:cacheprovider "$@"
