"""The servers a benchmark run needs, started on loopback in a throw-away
directory and stopped at the end: PostgreSQL (tuned for a disposable
cluster), Redis, gunicorn, Celery workers and the provider mocks.

Peak memory of a process is read from ``/proc/<pid>/status`` (VmHWM) while it
still runs, so it covers the whole life of the process.
"""

from __future__ import annotations

import base64
import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

# Durability costs nothing here: the cluster is thrown away after the run.
PG_FLAGS = [
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "wal_level=minimal",
    "max_wal_senders=0",
    "max_wal_size=8GB",
    "checkpoint_timeout=30min",
    "shared_buffers=2GB",
    "work_mem=64MB",
    "maintenance_work_mem=1GB",
    "max_connections=200",
    "jit=off",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pid: int) -> float | None:
    """Peak resident memory (VmHWM) of a running process, in MB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def children_of(pid: int) -> list[int]:
    out = []
    for path in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            with open(path) as f:
                out.extend(int(p) for p in f.read().split())
        except OSError:
            pass
    return out


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) a process has used with all its
    descendants: the live ones, and those that ended and were waited for."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime, stime, cutime, cstime: fields 14 to 17 of stat(5).
    ticks = sum(int(x) for x in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK") + sum(cpu_seconds(c) for c in children_of(pid))


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def apt_install(*packages: str) -> None:
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print(f"Installing {' '.join(packages)} with apt-get", flush=True)
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True)
    subprocess.run(
        [*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
        check=True,
        env=os.environ | {"DEBIAN_FRONTEND": "noninteractive"},
        stdout=subprocess.DEVNULL,
    )


def need_command(command: str, package: str) -> str:
    path = shutil.which(command)
    if path is None:
        apt_install(package)
        path = shutil.which(command)
    if path is None:
        raise RuntimeError(f"{command} is not available even after installing {package}")
    return path


def pg_bin() -> str:
    for directory in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(f"{directory}/pg_ctl", os.X_OK):
            return directory
    found = shutil.which("pg_ctl")
    if found:
        return str(Path(found).parent)
    apt_install("postgresql")
    return pg_bin()


class Stack:
    """Everything started for one run; ``close`` stops it all."""

    def __init__(self):
        self.work = Path(tempfile.mkdtemp(prefix="smsportal-bench."))
        os.chmod(self.work, 0o755)
        self.processes: list[subprocess.Popen] = []
        self.pgdata: Path | None = None
        self.pg_bin = ""
        self.database_url = ""
        self.redis_url = ""
        self.pg_port = 0
        # One site secret and credentials key for every process of the run:
        # credentials stored by one are read by the others.
        self.secret_key = os.urandom(32).hex()
        self.credentials_key = base64.urlsafe_b64encode(os.urandom(32)).decode()

    # -- PostgreSQL ------------------------------------------------------------

    def _as_postgres(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        env = os.environ | {"PATH": f"{self.pg_bin}:{os.environ.get('PATH', '')}"}
        command = list(args)
        # PostgreSQL refuses to run as root.
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", "env", f"PATH={env['PATH']}", *command]
        return subprocess.run(command, env=env, check=True, **kwargs)

    def start_postgres(self) -> str:
        self.pg_bin = pg_bin()
        self.pgdata = self.work / "pgdata"
        self.pgdata.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.pgdata, "postgres")
            shutil.chown(self.work, "postgres")
        self.pg_port = free_port()
        self._as_postgres(
            "initdb",
            "-D",
            str(self.pgdata),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            stdout=subprocess.DEVNULL,
        )
        options = f"-h 127.0.0.1 -p {self.pg_port} -k {self.work} " + " ".join(
            f"-c {flag}" for flag in PG_FLAGS
        )
        self._as_postgres(
            "pg_ctl",
            "-D",
            str(self.pgdata),
            "-l",
            str(self.work / "postgres.log"),
            "-w",
            "-o",
            options,
            "start",
            stdout=subprocess.DEVNULL,
        )
        self.createdb("smsportal")
        self.database_url = self.url_of("smsportal")
        return self.database_url

    def createdb(self, name: str) -> str:
        self._as_postgres(
            "createdb", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", name
        )
        return self.url_of(name)

    def url_of(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.pg_port}/{name}"

    def psql(self, sql: str, *, database: str = "smsportal", input_file: str | None = None) -> str:
        """Run SQL with psql (the tool the limits are measured with)."""
        command = [
            shutil.which("psql") or f"{self.pg_bin}/psql",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.pg_port),
            "-U",
            "postgres",
            "-d",
            database,
            "-At",
        ]
        if input_file:
            command += ["-f", input_file]
        else:
            command += ["-c", sql]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        return done.stdout

    def postgres_pid(self) -> int:
        with open(self.pgdata / "postmaster.pid") as f:
            return int(f.readline())

    def postgres_version(self) -> str:
        return self.psql("SHOW server_version").strip()

    # -- Redis -----------------------------------------------------------------

    def start_redis(self) -> str:
        server = need_command("redis-server", "redis-server")
        port = free_port()
        self.spawn(
            [
                server,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.work),
            ],
            log="redis.log",
        )
        wait_port(port)
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        return self.redis_url

    # -- processes -------------------------------------------------------------

    def spawn(
        self, command: list[str], *, env: dict | None = None, log: str = ""
    ) -> subprocess.Popen:
        out = open(self.work / log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env or os.environ.copy(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def stop(self, process: subprocess.Popen, timeout: float = 20.0) -> None:
        if process.poll() is None:
            # The main process alone: a Celery worker or gunicorn then shuts
            # its children down warmly, finishing the work in hand.
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout)
            # Whatever is left of the group is ended for good.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)
        if process in self.processes:
            self.processes.remove(process)

    def close(self) -> None:
        for process in list(self.processes):
            self.stop(process, timeout=10)
        if self.pgdata and self.pgdata.exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self._as_postgres(
                    "pg_ctl",
                    "-D",
                    str(self.pgdata),
                    "-m",
                    "immediate",
                    "stop",
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
        shutil.rmtree(self.work, ignore_errors=True)


def product_env(stack: Stack, **extra: str) -> dict[str, str]:
    """The environment of a production deployment on this stack."""
    base = stack.redis_url.rsplit("/", 1)[0]
    env = os.environ.copy()
    env.update(
        DJANGO_SETTINGS_MODULE="smsportal.settings",
        DATABASE_URL=stack.database_url,
        REDIS_URL=stack.redis_url,
        CELERY_BROKER_URL=f"{base}/1",
        CACHE_URL=f"{base}/2",
        DEBUG="false",
        SECRET_KEY=stack.secret_key,
        CREDENTIALS_KEYS=stack.credentials_key,
        ALLOWED_HOSTS="127.0.0.1,testserver",
        LOG_LEVEL="WARNING",
        # Persistent connections, as a production deployment runs.
        CONN_MAX_AGE="60",
        CELERY_TASK_ALWAYS_EAGER="false",
        # The provider mocks listen on loopback, over plain http.
        PROVIDER_ALLOW_HTTP="true",
        PROVIDER_ALLOWED_HOSTS="127.0.0.1",
        # Rates are measured with every message due: quiet hours would hold
        # them, or not, by the hour the benchmark runs.
        QUIET_HOURS_ENABLED="false",
    )
    env.update(extra)
    return env
