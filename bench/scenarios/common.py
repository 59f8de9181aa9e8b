"""What the scenarios share: the scales, the stack of one run (PostgreSQL,
Redis and the provider mocks; Celery workers as a scenario needs them),
dispatching a campaign with a real worker and accounting for its CPU, and the
psql timing helpers the limits are measured with."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.request

from bench import report
from bench.servers import (
    PYTHON,
    ROOT,
    Stack,
    children_of,
    cpu_seconds,
    free_port,
    need_command,
    peak_rss_mb,
    product_env,
    wait_port,
)

SCALES = {
    "quick": {
        "import_rows": 50_000,
        "recipients": 50_000,
        "sendsms": 30_000,
        "throttle_seconds": 8,
        "reports": 10_000,
        "history": 100_000,
        "samples": 20,
        "tool_seconds": 4,
        "dispatch_seconds": 40,
    },
    "full": {
        "import_rows": 1_000_000,
        "recipients": 1_000_000,
        "sendsms": 100_000,
        "throttle_seconds": 20,
        "reports": 200_000,
        "history": 10_000_000,
        "samples": 50,
        "tool_seconds": 10,
        "dispatch_seconds": 240,
    },
}
# gunicorn's sync workers, as its documentation advises for the cores.
GUNICORN_WORKERS = 2 * (os.cpu_count() or 2) + 1
INFOBIP_KEY = "bench-infobip-key"
SENDSMS_KEY = "bench-sendsms-key"


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def fmt(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def mb(value: float | None) -> str:
    return f"{value:.0f} MB" if value else "—"


def cpu_note(per_message: dict | None) -> str:
    """CPU time each part used per message sent, and the most messages a
    second that this machine's cores could give at that cost."""
    if not per_message:
        return ""
    total = sum(per_message.values())
    cores = os.cpu_count() or 1
    parts = "; ".join(f"{name} {fmt(us)} µs" for name, us in per_message.items())
    return (
        f"CPU per message: {parts} (together {fmt(total)} µs: "
        f"{cores} cores give at most {fmt(cores * 1e6 / total)} messages/s at that cost)"
    )


class Bench:
    """One run: its scale, its stack and the rows of the results table.
    Scenario 2 leaves the Infobip account and campaign it launches
    (``infobip``, ``infobip_campaign``) and how many of its recipients can be
    sent to (``sendable``) for scenarios 3 and 6."""

    def __init__(self, scale: str):
        self.scale = scale
        self.size = SCALES[scale]
        self.stack = Stack()
        self.rows: list[report.Row] = []
        self.mocks: dict[str, tuple[int, object]] = {}

    # -- setup -------------------------------------------------------------------

    def start(self) -> None:
        log(f"work directory {self.stack.work}")
        self.stack.start_postgres()
        self.stack.start_redis()
        os.environ.update(product_env(self.stack))
        need_command("wrk", "wrk")
        subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True
        )
        import django

        django.setup()
        for kind, key in (("infobip", INFOBIP_KEY), ("sendsms", SENDSMS_KEY)):
            port = free_port()
            process = self.stack.spawn(
                [PYTHON, "-m", "bench.mocks", kind, "--port", str(port), "--api-key", key],
                log=f"mock-{kind}.log",
            )
            wait_port(port)
            self.mocks[kind] = (port, process)
        log(
            f"PostgreSQL {self.stack.postgres_version()} and Redis up; mocks on "
            + ", ".join(f"{k} :{p}" for k, (p, _) in self.mocks.items())
        )

    def mock_url(self, kind: str) -> str:
        return f"http://127.0.0.1:{self.mocks[kind][0]}"

    def mock(self, kind: str, action: str = "stats") -> dict:
        url = f"{self.mock_url(kind)}/_bench/{action}"
        request = urllib.request.Request(url, method="POST" if action == "reset" else "GET")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def wrk(self, url: str, *, body: str, headers: dict[str, str], seconds: int) -> float:
        """Requests per second wrk reaches against ``url``."""
        script = self.stack.work / "wrk.lua"
        lines = ['wrk.method = "POST"', f"wrk.body = [==[{body}]==]"]
        lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
        script.write_text("\n".join(lines) + "\n")
        done = subprocess.run(
            ["wrk", "-t2", "-c32", f"-d{seconds}s", "-s", str(script), url],
            check=True,
            capture_output=True,
            text=True,
        )
        match = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
        if not match or "Non-2xx" in done.stdout:
            raise RuntimeError(f"wrk did not get clean answers:\n{done.stdout}")
        return float(match.group(1))

    def child(self, *args: str) -> dict:
        done = subprocess.run(
            [PYTHON, "-m", "bench.child", *args],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        return json.loads(done.stdout.strip().splitlines()[-1])

    # -- gunicorn ------------------------------------------------------------------------

    def gunicorn(
        self, port: int, *, log: str, env: dict | None = None, app: str = "smsportal.wsgi"
    ):
        """gunicorn with production settings on loopback ``port``, serving
        the WSGI module ``app``, its workers warmed: each loads the site on
        its first request, which is not what is measured."""
        from bench import load

        server = self.stack.spawn(
            [
                PYTHON,
                "-m",
                "gunicorn",
                app,
                "-w",
                str(GUNICORN_WORKERS),
                "-b",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
            ],
            env={**os.environ, **(env or {})},
            log=log,
        )
        wait_port(port)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            warm = load.run(
                port,
                load.repeat(load.Request("GET", "/healthz")),
                concurrency=GUNICORN_WORKERS,
                duration=2,
            )
            if warm.requests > 10 * GUNICORN_WORKERS and warm.percentile(100) < 250:
                break
        return server

    # -- Celery workers ----------------------------------------------------------------

    def worker(self, log: str):
        """A Celery worker with two processes, as on two cores."""
        from smsportal.celery import worker_command

        return self.stack.spawn(
            worker_command(
                "--concurrency",
                "2",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                loglevel="warning",
            ),
            log=log,
        )

    def dispatch(self, campaign_id: int, kind: str, expected: int, timeout: float) -> dict:
        """Send the campaign with a real Celery worker (two processes, as on
        two cores) and count what arrives at the mock."""
        from campaigns.tasks import dispatch_campaign
        from smsportal.celery import app

        self.mock(kind, "reset")
        app.control.purge()
        worker = self.worker("celery.log")
        for _ in range(2):  # one task per worker process; each hands over to the next
            dispatch_campaign.delay(campaign_id)
        deadline = time.monotonic() + timeout
        samples: list[float] = []
        stats = {}
        # Where the CPU went while messages arrived: the engine's worker,
        # PostgreSQL and the mock share the machine's cores.
        parts = {
            "engine": worker.pid,
            "postgresql": self.stack.postgres_pid(),
            "mock": self.mocks[kind][1].pid,
        }
        cpu: list[tuple[int, dict]] = []
        while time.monotonic() < deadline:
            time.sleep(1.0)
            stats = self.mock(kind)
            used = {name: cpu_seconds(pid) for name, pid in parts.items()}
            rss = [_rss_now(pid) for pid in children_of(worker.pid)]
            if stats["messages"]:
                samples.append(max((r for r in rss if r), default=0.0))
                cpu.append((stats["messages"], used))
            if stats["messages"] >= expected:
                break
        if len(cpu) > 1 and cpu[-1][0] > cpu[0][0]:
            (first, before), (last, after) = cpu[0], cpu[-1]
            stats["cpu_us_per_message"] = {
                name: (after[name] - before[name]) * 1e6 / (last - first) for name in parts
            }
        peaks = [peak_rss_mb(pid) or 0 for pid in [worker.pid, *children_of(worker.pid)]]
        if stats.get("messages", 0) < expected:
            # The window is over: what is left stays pending, as after a pause.
            from campaigns.models import Campaign
            from campaigns.services import campaign_pause

            campaign_pause(
                campaign=Campaign.objects.get(pk=campaign_id),
                user=None,
                reason="Benchmark window over",
            )
        # A warm shutdown lets the batch in hand be recorded (the paused
        # campaign stops the dispatch loop after it).
        self.stack.stop(worker, timeout=120)
        stats["worker_peak_rss_mb"] = max(peaks)
        stats["worker_rss_first_mb"] = samples[0] if samples else None
        stats["worker_rss_last_mb"] = samples[-1] if samples else None
        stats["timed_out"] = stats.get("messages", 0) < expected
        return stats

    # -- shared by several scenarios ---------------------------------------------------

    def settle(self) -> None:
        """Vacuum and analyse before a scenario, so none pays for the dead
        row versions an earlier one left (autovacuum would clean them up
        while it is being measured)."""
        started = time.perf_counter()
        self.stack.psql("VACUUM (ANALYZE)")
        log(f"vacuumed in {time.perf_counter() - started:.1f} s")

    def psql_rows_per_second(
        self, name: str, ids: list[int], chunk: int, statements: list[str]
    ) -> float:
        """Run ``statements`` (each with ``{values}`` for a chunk of ids) over
        ``ids`` in psql, in one transaction that is rolled back; rows a
        second, timed around psql."""
        script = self.stack.work / name
        with open(script, "w") as f:
            f.write("BEGIN;\n")
            for i in range(0, len(ids), chunk):
                values = ",".join(f"({x})" for x in ids[i : i + chunk])
                for statement in statements:
                    f.write(statement.format(values=values) + "\n")
            f.write("ROLLBACK;\n")
        started = time.perf_counter()
        self.stack.psql("", input_file=str(script))
        return len(ids) / (time.perf_counter() - started)

    def small_campaign(self, name: str, acc, snd, n: int, first: int):
        from bench import data
        from campaigns import services

        ids = data.contacts(n, first=first)
        cl = data.contact_list(name, ids)
        campaign = data.running_campaign(name, acc, snd, cl)
        services.materialise(campaign.pk)
        return campaign


def _rss_now(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None
