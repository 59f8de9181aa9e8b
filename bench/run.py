"""Run the seven scenarios of the performance design against their limits.

``python -m bench.run [--scale quick|full] [--only 2,3]`` (``make bench``,
``make bench SCALE=full``). Starts PostgreSQL and Redis in a throw-away
directory, the provider mocks, Celery workers and gunicorn as each scenario
needs them, and stops everything at the end. Each limit is measured in the
same run on the same machine; the table goes to ``bench/results/``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import multiprocessing
import os
import random
import re
import subprocess
import sys
import time
import traceback
import urllib.request

from bench import load, report
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
        "sendsms": 2_000,
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
        "sendsms": 20_000,
        "throttle_seconds": 20,
        "reports": 200_000,
        "history": 10_000_000,
        "samples": 50,
        "tool_seconds": 10,
        "dispatch_seconds": 240,
    },
}
SMALL_HISTORY = 10_000
INFOBIP_KEY = "bench-infobip-key"
SENDSMS_KEY = "bench-sendsms-key"
# Below what the engine sends unthrottled on two cores (scenarios 3 and 4),
# so the limiter, not the engine, is what holds the rate.
THROTTLE_INFOBIP = 100
THROTTLE_SENDSMS = 20
GUNICORN_WORKERS = 2 * (os.cpu_count() or 2) + 1


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

    # -- scenarios ----------------------------------------------------------------------

    def scenario_2_launch(self) -> None:
        """Materialise 1M recipients; the limit is the same INSERT … SELECT
        run bare with psql."""
        from django.db import connection

        from bench import data
        from campaigns import services

        n = self.size["recipients"]
        log(f"2: {n:,} contacts in two overlapping lists, 1% suppressed")
        ids = data.contacts(n, first=10_000_000)
        everyone = data.contact_list("Bench everyone", ids)
        again = data.contact_list("Bench newsletter", ids, every=10)  # 10% in both lists
        suppressed = data.suppress(ids, 100)
        infobip = data.account(
            "Bench Infobip",
            "infobip",
            base_url=self.mock_url("infobip"),
            api_key=INFOBIP_KEY,
            throughput=1_000_000,
            auth_type="app_key",
        )
        snd = data.sender("BenchShop", infobip)
        campaign = data.running_campaign("Bench 1M", infobip, snd, everyone, again)
        self.infobip_campaign = campaign
        self.infobip = infobip

        # The exact statement materialise runs, for the bare run.
        captured = []

        class Captured(Exception):
            pass

        def capture(execute, sql, params, many, context):
            if (
                sql.lstrip().startswith("INSERT INTO")
                and "SELECT" in sql
                and "campaigns_message" in sql
            ):
                captured.append(connection.ops.compose_sql(sql, params))
                raise Captured
            return execute(sql, params, many, context)

        with connection.execute_wrapper(capture), contextlib.suppress(Captured):
            services.materialise(campaign.pk)
        bare_sql = captured[0]
        self.stack.psql("VACUUM ANALYZE")
        self.stack.psql("CHECKPOINT")
        # Warm the caches the same way before both runs.
        self.stack.psql(
            "SELECT count(*) FROM contacts_contact; SELECT count(*) FROM contacts_listmembership"
        )
        script = self.stack.work / "bare.sql"
        script.write_text(f"\\timing on\nBEGIN;\n{bare_sql};\nROLLBACK;\n")
        out = self.stack.psql("", input_file=str(script))
        times = [float(t) for t in re.findall(r"Time: ([\d.]+) ms", out)]
        bare = max(times) / 1000
        self.stack.psql("VACUUM campaigns_message")
        self.stack.psql("CHECKPOINT")
        log(f"2: bare INSERT … SELECT {bare:.2f} s; now materialise()")
        result = self.child("materialise", str(campaign.pk))
        seconds = result["seconds"]
        ratio = bare / seconds
        self.recipients = result["inserted"]
        self.sendable = result["inserted"] - suppressed
        self.rows.append(
            report.Row(
                "2 Launch: materialise recipients",
                f"{fmt(result['inserted'])} rows in {seconds:.2f} s",
                f"bare INSERT … SELECT (psql) {bare:.2f} s",
                f"{ratio:.2f}",
                "≤ 15 s at 1M; ≥ 0.5",
                seconds <= 15 * result["inserted"] / 1_000_000 and ratio >= 0.5,
                mb(result["peak_rss_mb"]),
                {
                    "seconds": seconds,
                    "bare_seconds": bare,
                    "inserted": result["inserted"],
                    "suppressed": suppressed,
                },
            )
        )

    def scenario_3_infobip(self) -> None:
        from campaigns.dispatch import send_options
        from providers.base import OutboundSms

        backend = self.infobip.backend()
        sample = [
            OutboundSms(
                ref=str(i), to=f"+49151{i:08d}", text=self.infobip_campaign.text, sender="BenchShop"
            )
            for i in range(backend.max_destinations)
        ]
        body = json.dumps(backend.build_request(sample, send_options(self.infobip_campaign)))
        capacity = self.wrk(
            f"{self.mock_url('infobip')}/sms/2/text/advanced",
            body=body,
            headers={"Authorization": f"App {INFOBIP_KEY}", "Content-Type": "application/json"},
            seconds=self.size["tool_seconds"],
        ) * len(sample)
        log(f"3: mock capacity {capacity:,.0f} messages/s; dispatching {self.sendable:,}")
        window = self.size["dispatch_seconds"]
        stats = self.dispatch(self.infobip_campaign.pk, "infobip", self.sendable, timeout=window)
        rate = stats.get("rate", 0.0)
        update_rate = self._batched_update_rate()
        limit = min(capacity, update_rate)
        flat = (stats["worker_rss_last_mb"] or 0) <= (stats["worker_rss_first_mb"] or 0) * 1.25
        self.rows.append(
            report.Row(
                "3 Dispatch to Infobip mock (1,000 per request)",
                f"{fmt(rate)} messages/s ({fmt(stats['messages'])} received)",
                f"mock {fmt(capacity)}/s (wrk); batched UPDATE {fmt(update_rate)} rows/s",
                f"{rate / limit:.2f}",
                "≥ 10,000/s; RSS flat < 300 MB",
                rate >= 10_000
                and stats["worker_peak_rss_mb"] < 300
                and flat
                and not stats["timed_out"],
                f"{mb(stats['worker_peak_rss_mb'])} per worker process "
                f"({mb(stats['worker_rss_first_mb'])} → {mb(stats['worker_rss_last_mb'])})",
                {"rate": rate, "capacity": capacity, "update_rate": update_rate, **stats},
                note=(
                    f"sustained rate over a {window} s window: {fmt(stats['messages'])} of "
                    f"{fmt(self.sendable)} sent, the rest left paused"
                    if stats["timed_out"]
                    else ""
                ),
            )
        )

    def _batched_update_rate(self) -> float:
        """What PostgreSQL alone does for the status path: the columns a
        submit result sets, by id, 1,000 rows a statement, run in psql. Rolled
        back, so the campaign stays as the engine left it."""
        from campaigns.models import Message

        ids = list(
            Message.objects.filter(campaign=self.infobip_campaign)
            .order_by("id")
            .values_list("id", flat=True)[: min(100_000, self.sendable)]
        )
        return self._psql_rows_per_second(
            "update.sql",
            ids,
            1000,
            [
                "UPDATE campaigns_message m SET status = 'accepted', "
                "provider_message_id = v.id::text, submitted_at = now(), sent_at = now(), "
                "segments = 1, currency = 'EUR' "
                "FROM (VALUES {values}) v(id) WHERE m.id = v.id;"
            ],
        )

    def _psql_rows_per_second(
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

    def settle(self) -> None:
        """Vacuum and analyse before a scenario, so none pays for the dead
        row versions an earlier one left (autovacuum would clean them up
        while it is being measured)."""
        started = time.perf_counter()
        self.stack.psql("VACUUM (ANALYZE)")
        log(f"vacuumed in {time.perf_counter() - started:.1f} s")

    def _status_path_rate(self, campaign) -> float:
        """What PostgreSQL alone spends on the two writes every sent message
        needs: claimed (to "sending", with its claim token and time), then
        answered (status, provider id, times). 500 rows a statement, run in
        psql on one backend with nothing else running, rolled back."""
        from campaigns.models import Message

        ids = list(
            Message.objects.filter(campaign=campaign).order_by("id").values_list("id", flat=True)
        )
        return self._psql_rows_per_second(
            "status_path.sql",
            ids,
            500,
            [
                "UPDATE campaigns_message m SET status = 'sending', submitted_at = now(), "
                "claim_token = gen_random_uuid() "
                "FROM (VALUES {values}) v(id) WHERE m.id = v.id;",
                "UPDATE campaigns_message m SET status = 'accepted', "
                "provider_message_id = 'again-' || v.id, sent_at = now() "
                "FROM (VALUES {values}) v(id) WHERE m.id = v.id;",
            ],
        )

    def _statuses(self) -> dict:
        from django.db.models import Count

        from campaigns.models import Message

        rows = Message.objects.filter(campaign=self.infobip_campaign).values("status")
        return {r["status"]: r["n"] for r in rows.annotate(n=Count("id"))}

    def _small_campaign(self, name: str, acc, snd, n: int, first: int):
        from bench import data
        from campaigns import services

        ids = data.contacts(n, first=first)
        cl = data.contact_list(name, ids)
        campaign = data.running_campaign(name, acc, snd, cl)
        services.materialise(campaign.pk)
        return campaign

    def scenario_4_sendsms(self) -> None:
        from bench import data

        n = self.size["sendsms"]
        acc = data.account(
            "Bench sendsms",
            "sendsms",
            base_url=self.mock_url("sendsms") + "/",
            api_key=SENDSMS_KEY,
            throughput=1_000_000,
        )
        snd = data.sender("4930123456", acc)
        campaign = self._small_campaign("Bench sendsms", acc, snd, n, first=30_000_000)
        body = json.dumps(
            {
                "action": "sendsms",
                "message-text": data.TEXT,
                "to": "4915112345678",
                "from": "4930123456",
            }
        )
        capacity = self.wrk(
            self.mock_url("sendsms") + "/",
            body=body,
            headers={"x-api-key": SENDSMS_KEY, "Content-Type": "application/json"},
            seconds=self.size["tool_seconds"],
        )
        log(f"4: mock {capacity:,.0f} requests/s; dispatching {n:,} one per request")
        stats = self.dispatch(campaign.pk, "sendsms", n, timeout=self.size["dispatch_seconds"])
        rate = stats.get("rate", 0.0)
        floor = self._status_path_rate(campaign)
        self.rows.append(
            report.Row(
                "4 Dispatch to sendsms mock (1 per request)",
                f"{fmt(rate)} messages/s ({fmt(stats['messages'])} received)",
                f"mock {fmt(capacity)} requests/s (wrk); PostgreSQL alone, the two updates "
                f"of each message: {fmt(floor)} messages/s ({fmt(1e6 / floor)} µs each)",
                f"{rate / capacity:.2f}",
                "≥ 0.5",
                rate / capacity >= 0.5,
                f"{mb(stats['worker_peak_rss_mb'])} per worker process",
                {"rate": rate, "capacity": capacity, "status_path_rate": floor, **stats},
                note=cpu_note(stats.get("cpu_us_per_message")),
            )
        )

    def scenario_5_throttle(self) -> None:
        from bench import data

        seconds = self.size["throttle_seconds"]
        cases = [
            ("infobip", THROTTLE_INFOBIP, {"auth_type": "app_key"}, INFOBIP_KEY, "BenchShop"),
            ("sendsms", THROTTLE_SENDSMS, {}, SENDSMS_KEY, "4930123456"),
        ]
        for index, (kind, rate, options, key, sender_value) in enumerate(cases):
            acc = data.account(
                f"Bench throttled {kind}",
                kind,
                base_url=self.mock_url(kind) + "/",
                api_key=key,
                throughput=rate,
                **options,
            )
            snd = data.sender(sender_value, acc)
            n = rate * seconds
            campaign = self._small_campaign(
                f"Bench throttled {kind}", acc, snd, n, first=40_000_000 + index * 1_000_000
            )
            log(f"5: {kind} account at {rate}/s, {n:,} messages")
            stats = self.dispatch(campaign.pk, kind, n, timeout=seconds * 3 + 60)
            measured = stats.get("rate", 0.0)
            busiest = stats["max_in_1s"]
            self.rows.append(
                report.Row(
                    f"5{'ab'[index]} Throughput limit, {kind} account",
                    f"busiest 1 s: {fmt(busiest)}; mean {fmt(measured, 1)}/s",
                    f"configured {rate}/s",
                    f"{busiest / rate:.2f} max, {measured / rate:.3f} mean",
                    "max ≤ 1.00; mean ≥ 0.95",
                    busiest <= rate and measured >= 0.95 * rate and not stats["timed_out"],
                    f"{mb(stats['worker_peak_rss_mb'])} per worker process",
                    {"rate": rate, **stats},
                )
            )

    def scenario_6_webhooks(self) -> None:
        """Delivery reports posted to the webhook under gunicorn, with a Celery
        worker applying what the webhook stored: once alone (6a), once while
        another campaign dispatches to the Infobip mock (6b)."""
        from django.urls import reverse

        from bench import data
        from campaigns.models import Message
        from campaigns.tasks import dispatch_campaign
        from providers.status import Status
        from smsportal.celery import app

        n = min(self.size["reports"], self.sendable)
        log(f"6: statuses now {self._statuses()}")
        messages = list(
            Message.objects.filter(campaign=self.infobip_campaign, status=Status.ACCEPTED)
            .order_by("id")
            .values_list("id", "phone", "provider_message_id")[:n]
        )
        path = reverse("providers:webhook", args=[self.infobip.webhook_secret])
        half = len(messages) // 2
        alone = _report_stream(messages[:half], path)
        during = _report_stream(messages[half:], path)
        snd = data.sender("BenchMore", self.infobip)
        other = self._small_campaign(
            "Bench during reports", self.infobip, snd, self.size["reports"], first=50_000_000
        )
        port = free_port()
        gunicorn = self.stack.spawn(
            [
                PYTHON,
                "-m",
                "gunicorn",
                "smsportal.wsgi",
                "-w",
                str(GUNICORN_WORKERS),
                "-b",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
            ],
            log="gunicorn.log",
        )
        wait_port(port)
        # Each worker loads the site on its first request: not what is measured.
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
        noop = load.run(
            port,
            load.repeat(load.Request("GET", "/healthz")),
            concurrency=GUNICORN_WORKERS,
            duration=self.size["tool_seconds"],
        )
        app.control.purge()
        worker = self.worker("celery-6.log")
        # Each worker also sets up the callback path (the backend, the cache
        # and broker connections) on its first callback: warm it with reports
        # for message IDs nobody sent, which are kept as unknown.
        unknown = [(0, "+4915100000000", f"bench-warm-{i}") for i in range(20 * GUNICORN_WORKERS)]
        load.run(port, iter(_report_stream(unknown, path)[0]), concurrency=GUNICORN_WORKERS)
        self._wait_applied(timeout=120)
        results = {}
        try:
            for key, (requests, expected, items) in (("a", alone), ("b", during)):
                dispatched = None
                if key == "b":
                    self.mock("infobip", "reset")
                    for _ in range(2):
                        dispatch_campaign.delay(other.pk)
                    self._wait_for_mock("infobip", 1, timeout=60)
                    before = self.mock("infobip")["messages"]
                log(
                    f"6{key}: no-op view {noop.rate:,.0f} requests/s; posting {items:,} "
                    f"reports in {len(requests):,} requests"
                    + (" while a campaign dispatches" if key == "b" else "")
                )
                hooks = load.run(port, iter(requests), concurrency=GUNICORN_WORKERS)
                if key == "b":
                    dispatched = (self.mock("infobip")["messages"] - before) / hooks.seconds
                    self._pause(other.pk)
                applied_after = self._wait_applied(timeout=600)
                final = dict(
                    Message.objects.filter(id__in=list(expected)).values_list("id", "status")
                )
                wrong = sum(1 for i, status in expected.items() if final.get(i) != status)
                results[key] = (hooks, expected, items, requests, wrong, applied_after, dispatched)
            peaks = [peak_rss_mb(pid) or 0 for pid in children_of(gunicorn.pid)]
        finally:
            self.stack.stop(gunicorn)
            self.stack.stop(worker, timeout=120)
        for key, (
            hooks,
            expected,
            items,
            requests,
            wrong,
            applied_after,
            dispatched,
        ) in results.items():
            accepted = hooks.weight_rate
            per_request = items / len(requests)
            limit = noop.rate * per_request
            p99 = hooks.percentile(99)
            refused = sum(c for s, c in hooks.statuses.items() if not 200 <= s < 300)
            figure = (
                f"{fmt(accepted)} reports/s; p99 {p99:.0f} ms; "
                f"{100 * (1 - wrong / len(expected)):.2f}% correct, all applied "
                f"{applied_after:.1f} s after the last"
            )
            if dispatched is not None:
                figure += f"; dispatch went on at {fmt(dispatched)} messages/s"
            label = "alone" if key == "a" else "while a campaign dispatches"
            self.rows.append(
                report.Row(
                    f"6{key} Delivery-report ingest (webhook, gunicorn), {label}",
                    figure,
                    f"no-op view {fmt(noop.rate)} requests/s × {per_request:.1f} reports/request",
                    f"{accepted / limit:.2f}",
                    "≥ 5,000/s; p99 < 50 ms; 100% correct",
                    accepted >= 5000
                    and p99 < 50
                    and wrong == 0
                    and refused == 0
                    and (dispatched is None or dispatched > 0),
                    f"{mb(max(peaks))} per gunicorn worker",
                    {
                        "reports_per_second": accepted,
                        "p99_ms": p99,
                        "p50_ms": hooks.percentile(50),
                        "requests": hooks.requests,
                        "reports": items,
                        "wrong_final_status": wrong,
                        "refused": refused,
                        "applied_seconds_after_last": applied_after,
                        "dispatch_rate_during": dispatched,
                        "statuses": hooks.statuses,
                        "noop_rate": noop.rate,
                        "noop_p99_ms": noop.percentile(99),
                        "gunicorn_workers": GUNICORN_WORKERS,
                    },
                )
            )

    def _pause(self, campaign_id: int) -> None:
        from campaigns.models import Campaign
        from campaigns.services import campaign_pause

        campaign = Campaign.objects.get(pk=campaign_id)
        if campaign.state == Campaign.State.RUNNING:
            campaign_pause(campaign=campaign, user=None, reason="Benchmark scenario over")

    def _wait_for_mock(self, kind: str, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.mock(kind)["messages"] < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {kind} mock received nothing in {timeout} s")
            time.sleep(0.2)

    def _wait_applied(self, timeout: float) -> float:
        """Seconds until the worker has applied every stored callback."""
        from providers.models import WebhookInbox

        started = time.monotonic()
        while WebhookInbox.objects.exists():
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"stored callbacks still unapplied after {timeout} s")
            time.sleep(0.1)
        return time.monotonic() - started

    def scenario_7_pages(self) -> None:
        big, small = self.size["history"], SMALL_HISTORY
        results = {}
        for name, rows in (("pages_big", big), ("pages_small", small)):
            url = self.stack.createdb(name)
            env = os.environ | {"DATABASE_URL": url}
            subprocess.run(
                [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
                cwd=ROOT,
                check=True,
                env=env,
            )
            log(f"7: {rows:,} message rows, then the pages")
            done = subprocess.run(
                [PYTHON, "-m", "bench.child", "pages", str(rows), "10", str(self.size["samples"])],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
                env=env,
            )
            results[name] = json.loads(done.stdout.strip().splitlines()[-1])
        b, s = results["pages_big"], results["pages_small"]
        labels = {
            "log_first": "message log, first page",
            "log_deep": "message log, deep page (?after=)",
            "campaign": "campaign page",
        }
        for index, (key, label) in enumerate(labels.items()):
            growth = s[key] / b[key] if b[key] else 0
            limit = f"{fmt(s['rows'])} rows: {s[key]:.1f} ms"
            if key != "campaign":
                limit += f"; raw keyset SQL {b['raw_sql']:.1f} ms"
            self.rows.append(
                report.Row(
                    f"7{'abc'[index]} {label}, {fmt(b['rows'])} rows",
                    f"p95 {b[key]:.1f} ms",
                    limit,
                    f"{growth:.2f}",
                    "p95 < 50 ms; ≥ 0.5",
                    b[key] < 50 and growth >= 0.5,
                    mb(b["peak_rss_mb"]),
                    {
                        "plan": b["plan"] if key == "log_deep" else "",
                        "big": b[key],
                        "small": s[key],
                        "raw_sql": b["raw_sql"],
                        "rows": b["rows"],
                        "url": b["urls"][key],
                    },
                )
            )
        self.pages_plan = b["plan"]
        big_export, small_export = b["export"], s["export"]
        growth = big_export["rss_highest_mb"] - big_export["rss_before_mb"]
        small_growth = small_export["rss_highest_mb"] - small_export["rss_before_mb"]
        self.rows.append(
            report.Row(
                f"7d REST export, streamed CSV of one campaign, {fmt(b['rows'])} rows",
                f"{fmt(big_export['rows'])} rows in {big_export['seconds']:.1f} s "
                f"({fmt(big_export['rows'] / big_export['seconds'])} rows/s); "
                f"memory +{growth:.1f} MB while streaming",
                f"{fmt(small_export['rows'])} rows: memory +{small_growth:.1f} MB",
                f"{growth - small_growth:+.1f} MB",
                "memory flat: < 50 MB more than the small export",
                growth - small_growth < 50,
                f"{mb(big_export['rss_before_mb'])} → {mb(big_export['rss_highest_mb'])}",
                {"big": big_export, "small": small_export},
            )
        )

    def scenario_1_import(self) -> None:
        from bench import importer
        from bench.data import import_file

        n = self.size["import_rows"]
        path = str(self.stack.work / "contacts.csv")
        made = import_file(path, n)
        log(f"1: {n:,}-row CSV; phonenumbers alone on both cores")
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))[1:]
        chunks = [[r[0] for r in rows[i : i + 5000]] for i in range(0, len(rows), 5000)]
        started = time.perf_counter()
        with multiprocessing.Pool(os.cpu_count() or 2) as pool:
            parsed = pool.map(_normalise_chunk, chunks)
        pn_seconds = time.perf_counter() - started
        normalised = {}
        for chunk, row_chunk in zip(
            parsed, (rows[i : i + 5000] for i in range(0, len(rows), 5000)), strict=True
        ):
            for number, row in zip(chunk, row_chunk, strict=True):
                if number and number[0] not in normalised:
                    normalised[number[0]] = (number, row)
        copy_file = self.stack.work / "normalised.csv"
        now = dt.datetime.now(dt.UTC).isoformat()
        with open(copy_file, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            for (e164, country, zone), row in normalised.values():
                out.writerow([e164, row[1], row[2], "{}", country, zone, now, now])
        self.stack.psql("CREATE TABLE bench_copy (LIKE contacts_contact INCLUDING ALL)")
        started = time.perf_counter()
        self.stack.psql(
            "\\copy bench_copy (phone, first_name, last_name, attributes, country, time_zone, "
            f"created_at, updated_at) FROM '{copy_file}' CSV"
        )
        copy_seconds = time.perf_counter() - started
        self.stack.psql("DROP TABLE bench_copy")
        pn_rate, copy_rate = n / pn_seconds, n / copy_seconds
        limit = min(pn_rate, copy_rate)
        numbers = {
            "rows": n,
            "valid_unique": len(normalised),
            "phonenumbers_rate": pn_rate,
            "copy_rate": copy_rate,
            **made,
        }
        limit_text = (
            f"phonenumbers ×{os.cpu_count()} {fmt(pn_rate)} rows/s; COPY {fmt(copy_rate)} rows/s"
        )
        service = importer.service_name()
        if service is None:
            self.rows.append(
                report.Row(
                    "1 Import a CSV into a list",
                    "not measured: no import service yet",
                    limit_text,
                    "—",
                    "≥ 40k rows/s; RSS < 500 MB; ≥ 0.7",
                    None,
                    "—",
                    numbers,
                    note="contacts has no CSV import service to call yet "
                    f"(looked for {', '.join(importer.CANDIDATES)}).",
                )
            )
            return
        from contacts.models import ContactList

        target = ContactList.objects.create(name="Bench import")
        log(f"1: importing with {service}")
        result = self.child("import", path, str(target.pk), "DE")
        rate = n / result["seconds"]
        self.rows.append(
            report.Row(
                "1 Import a CSV into a list",
                f"{fmt(rate)} rows/s ({fmt(n)} rows in {result['seconds']:.1f} s)",
                limit_text,
                f"{rate / limit:.2f}",
                "≥ 40k rows/s; RSS < 500 MB; ≥ 0.7",
                rate >= 40_000
                and max(result["peak_rss_mb"], result["children_peak_rss_mb"]) < 500
                and rate / limit >= 0.7,
                f"{mb(result['peak_rss_mb'])} importer, "
                f"{mb(result['children_peak_rss_mb'])} per normalising process",
                numbers | {"rate": rate, "service": service, **result},
            )
        )


def _rss_now(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _normalise_chunk(raws: list[str]) -> list[tuple[str, str, str] | None]:
    """phonenumbers alone: parse, validate, format as E.164, country, zone."""
    import phonenumbers
    from phonenumbers import timezone as pn_timezone

    out = []
    for raw in raws:
        text = raw.strip()
        if text.startswith("00"):
            text = "+" + text[2:]
        try:
            parsed = phonenumbers.parse(text, "DE")
        except phonenumbers.NumberParseException:
            out.append(None)
            continue
        if not phonenumbers.is_valid_number(parsed):
            out.append(None)
            continue
        zones = pn_timezone.time_zones_for_number(parsed)
        out.append(
            (
                phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
                phonenumbers.region_code_for_number(parsed) or "",
                zones[0] if zones else "",
            )
        )
    return out


_FINAL = {
    "delivered": (
        {
            "groupId": 3,
            "groupName": "DELIVERED",
            "id": 5,
            "name": "DELIVERED_TO_HANDSET",
            "description": "Message delivered to handset",
        },
        {
            "groupId": 0,
            "groupName": "OK",
            "id": 0,
            "name": "NO_ERROR",
            "description": "No Error",
            "permanent": False,
        },
    ),
    "undelivered": (
        {
            "groupId": 2,
            "groupName": "UNDELIVERABLE",
            "id": 9,
            "name": "UNDELIVERABLE_NOT_DELIVERED",
            "description": "Message sent not delivered",
        },
        {
            "groupId": 1,
            "groupName": "HANDSET_ERRORS",
            "id": 27,
            "name": "EC_ABSENT_SUBSCRIBER",
            "description": "Absent Subscriber",
            "permanent": False,
        },
    ),
}
_LATE = {
    "groupId": 3,
    "groupName": "DELIVERED",
    "id": 2,
    "name": "DELIVERED_TO_OPERATOR",
    "description": "Message delivered to operator",
}


def _report_stream(messages, path: str) -> tuple[list[load.Request], dict[int, str], int]:
    """Infobip delivery reports for ``messages``, as pushed to notifyUrl:
    ``results[]`` batches of up to 100 and single posts (1 in 10), with 10%
    of the final reports sent twice and, for 10% of the messages, an earlier
    (intermediate) report arriving after the final one."""
    rng = random.Random(6)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    keyed = []
    expected = {}
    for position, (message_id, phone, provider_id) in enumerate(messages):
        final = "undelivered" if message_id % 10 == 3 else "delivered"
        expected[message_id] = final
        status, error = _FINAL[final]
        item = {
            "bulkId": "bench",
            "messageId": provider_id,
            "to": phone.lstrip("+"),
            "sentAt": stamp,
            "doneAt": stamp,
            "smsCount": 1,
            "mccMnc": "26201",
            "price": {"pricePerMessage": 0.01, "currency": "EUR"},
            "status": status,
            "error": error,
        }
        keyed.append((position, item))
        if rng.random() < 0.10:
            keyed.append((position + rng.randint(1, 500), item))  # a duplicate
        if rng.random() < 0.10:
            late = dict(item, status=_LATE, error=_FINAL["delivered"][1])
            keyed.append((position + rng.randint(1, 500), late))  # out of order
    keyed.sort(key=lambda pair: pair[0])
    requests, batch = [], []
    headers = {"Content-Type": "application/json"}

    def post(items):
        body = json.dumps({"results": items}).encode()
        requests.append(load.Request("POST", path, body, headers, weight=len(items)))

    for _, item in keyed:
        if rng.random() < 0.10:
            post([item])
            continue
        batch.append(item)
        if len(batch) == 100:
            post(batch)
            batch = []
    if batch:
        post(batch)
    return requests, expected, len(keyed)


def main() -> None:
    parser = argparse.ArgumentParser(description="smsportal benchmarks")
    parser.add_argument("--scale", choices=sorted(SCALES), default=os.environ.get("SCALE", "quick"))
    parser.add_argument("--only", default="", help="comma-separated scenario numbers, e.g. 2,3")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))
    bench = Bench(args.scale)
    started = dt.datetime.now(dt.UTC)
    clock = time.monotonic()
    order = [
        ("2", bench.scenario_2_launch),
        ("3", bench.scenario_3_infobip),
        ("6", bench.scenario_6_webhooks),
        ("4", bench.scenario_4_sendsms),
        ("5", bench.scenario_5_throttle),
        ("7", bench.scenario_7_pages),
        ("1", bench.scenario_1_import),
    ]
    # Scenarios 3 and 6 work on the campaign scenario 2 launches.
    needs = {"3": "2", "6": "3"}
    for number in list(only):
        while number in needs:
            number = needs[number]
            only.add(number)
    failed = False
    try:
        bench.start()
        for number, scenario in order:
            if only and number not in only:
                continue
            try:
                bench.settle()
                scenario()
            except Exception:
                failed = True
                traceback.print_exc()
                bench.rows.append(
                    report.Row(
                        f"{number} (scenario {number})",
                        "error: see the run's output",
                        "—",
                        "—",
                        "—",
                        False,
                        "—",
                    )
                )
    finally:
        try:
            postgres = bench.stack.postgres_version()
        except Exception:
            postgres = "not started"
        bench.stack.close()
    bench.rows.sort(key=lambda row: row.scenario)
    text = report.write(
        bench.rows, args.scale, report.machine(postgres), started, time.monotonic() - clock
    )
    print()
    print(text)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
