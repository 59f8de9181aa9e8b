"""Real Celery worker processes against the test database and Redis, as in
production. `make test` provides PostgreSQL and Redis; without them these
tests are skipped with the reason."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from django.db import connection

from smsportal.celery import worker_command

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


class Worker:
    def __init__(self, **env):
        self.env = env
        self.process = None

    def start(self):
        env = os.environ | {
            "DATABASE_URL": database_url(),
            "SANDBOX_REPORT_DELAY": "0.2",
            "DISPATCH_TIME_BUDGET": "3",
            # Whether they hold a message depends on the hour the suite runs.
            "QUIET_HOURS_ENABLED": "false",
            **self.env,
        }
        self.process = subprocess.Popen(
            worker_command(
                "--concurrency",
                "2",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                loglevel="warning",
            ),
            cwd=ROOT,
            env=env,
            # Its own process group, so a kill takes the pool children too.
            start_new_session=True,
        )
        return self

    def kill(self):
        """SIGKILL the worker and its pool children at once, as a crash."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def worker(transactional_db):
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.skip("needs PostgreSQL and Redis: run through `make test`")
    from smsportal.celery import app

    app.control.purge()
    started = []

    def start(**env):
        w = Worker(**env).start()
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


def wait_for(predicate, timeout=60.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
