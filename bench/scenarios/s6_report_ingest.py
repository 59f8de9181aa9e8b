"""Scenario 6: delivery-report ingest through the webhook under gunicorn,
alone (6a) and while a campaign dispatches (6b), against the no-op view on
the same gunicorn (measured before 6a and again after it, both turns
together), with where the CPU went: per webhook request in gunicorn, stage
by stage (``providers.timing``), and per report in the worker applying
them, PostgreSQL and the load tool. After 6a, its callbacks are posted once
more to the door's floor (``bench.floor``): stored by the same INSERT and
answered, with nothing screened, parsed or applied, which shows what of
6a's cost is the door itself."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import random
import resource
import threading
import time

from bench import load, report
from bench.scenarios.common import GUNICORN_WORKERS, Bench, fmt, log, mb
from bench.servers import children_of, cpu_seconds, free_port, peak_rss_mb

# Seconds of callbacks that warm the gunicorn workers before anything is measured.
WARM_SECONDS = 3


def run(bench: Bench) -> None:
    """Delivery reports posted to the webhook under gunicorn, with a Celery
    worker applying what the webhook stored: once alone (6a), once while
    another campaign dispatches to the Infobip mock (6b)."""
    from django.urls import reverse

    from bench import data
    from campaigns.models import Message
    from campaigns.tasks import dispatch_campaign
    from providers import timing
    from providers.status import Status
    from smsportal.celery import app

    n = min(bench.size["reports"], bench.sendable)
    log(f"6: statuses now {_statuses(bench)}")
    messages = list(
        Message.objects.filter(campaign=bench.infobip_campaign, status=Status.ACCEPTED)
        .order_by("id")
        .values_list("id", "phone", "provider_message_id")[:n]
    )
    path = reverse("providers:webhook", args=[bench.infobip.webhook_secret])
    half = len(messages) // 2
    alone = _report_stream(messages[:half], path)
    during = _report_stream(messages[half:], path)
    snd = data.sender("BenchMore", bench.infobip)
    other = bench.small_campaign(
        "Bench during reports", bench.infobip, snd, bench.size["reports"], first=50_000_000
    )
    port = free_port()
    # Each gunicorn worker counts where its callbacks' time goes.
    timing_dir = bench.stack.work / "webhook-timing"
    gunicorn = bench.gunicorn(
        port,
        env={"WEBHOOK_TIMING_DIR": str(timing_dir)},
        log="gunicorn.log",
        app="bench.floor:site()",
    )
    noop_before = load.run(
        port,
        load.repeat(load.Request("GET", "/healthz")),
        concurrency=GUNICORN_WORKERS,
        duration=bench.size["tool_seconds"],
    )
    noop = noop_before
    app.control.purge()
    worker = bench.worker("celery-6.log")
    # Each worker also sets up the callback path (the backend, the cache
    # and broker connections) on its first callbacks: warm it with reports
    # for message IDs nobody sent, which are kept as unknown. A worker
    # queues the applier only when no run is queued yet (the flag in the
    # cache), so the flag is cleared again and again meanwhile: each opens
    # its broker connection now, not while it is measured.
    unknown = [(0, "+4915100000000", f"bench-warm-{i}") for i in range(20 * GUNICORN_WORKERS)]
    warm = _report_stream(unknown, path)[0]
    clearing = threading.Event()
    clearer = threading.Thread(target=_clear_drain_flag, args=(clearing,), daemon=True)
    clearer.start()
    try:
        load.run(port, itertools.cycle(warm), concurrency=GUNICORN_WORKERS, duration=WARM_SECONDS)
    finally:
        clearing.set()
        clearer.join()
    _wait_applied(timeout=120)
    results = {}
    try:
        for key, (requests, expected, items) in (("a", alone), ("b", during)):
            dispatched = None
            if key == "b":
                bench.mock("infobip", "reset")
                for _ in range(2):
                    dispatch_campaign.delay(other.pk)
                _wait_for_mock(bench, "infobip", 1, timeout=60)
                before = bench.mock("infobip")["messages"]
            log(
                f"6{key}: no-op view {noop.rate:,.0f} requests/s; posting {items:,} "
                f"reports in {len(requests):,} requests"
                + (" while a campaign dispatches" if key == "b" else "")
            )
            parts = {
                "gunicorn": gunicorn.pid,
                "worker": worker.pid,
                "postgresql": bench.stack.postgres_pid(),
            }
            stages_before = timing.read(str(timing_dir))
            cpu_before = {name: cpu_seconds(pid) for name, pid in parts.items()}
            tool_before = _own_cpu()
            hooks = load.run(port, iter(requests), concurrency=GUNICORN_WORKERS)
            tool = _own_cpu() - tool_before
            web = cpu_seconds(gunicorn.pid) - cpu_before["gunicorn"]
            if key == "b":
                dispatched = (bench.mock("infobip")["messages"] - before) / hooks.seconds
                _pause(other.pk)
            applied_after = _wait_applied(timeout=600)
            cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in parts.items()}
            cpu.update(gunicorn=web, load=tool)
            final = dict(Message.objects.filter(id__in=list(expected)).values_list("id", "status"))
            wrong = sum(1 for i, status in expected.items() if final.get(i) != status)
            # The gunicorn workers write their counts twice a second.
            time.sleep(3 * timing.FLUSH_EVERY)
            stages = _stages(stages_before, timing.read(str(timing_dir)))
            if key == "a":
                # The door's floor, then the no-op view again: the limit is
                # both no-op turns together, as in scenario 8.
                floor = _floor(bench, port, requests, gunicorn.pid)
                noop_after = load.run(
                    port,
                    load.repeat(load.Request("GET", "/healthz")),
                    concurrency=GUNICORN_WORKERS,
                    duration=bench.size["tool_seconds"],
                )
                noop = _together(noop_before, noop_after)
                log(
                    f"6a: the door's floor {floor['reports_per_second']:,.0f} reports/s; no-op "
                    f"view {noop_before.rate:,.0f} then {noop_after.rate:,.0f} requests/s"
                )
            results[key] = (
                hooks,
                expected,
                items,
                requests,
                wrong,
                applied_after,
                dispatched,
                cpu,
                stages,
            )
        peaks = [peak_rss_mb(pid) or 0 for pid in children_of(gunicorn.pid)]
    finally:
        bench.stack.stop(gunicorn)
        bench.stack.stop(worker, timeout=120)
    for key, (
        hooks,
        expected,
        items,
        requests,
        wrong,
        applied_after,
        dispatched,
        cpu,
        stages,
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
        sound = p99 < 50 and wrong == 0 and refused == 0
        noop_limit = f"no-op view {fmt(noop.rate)} requests/s × {per_request:.1f} reports/request"
        if key == "a":
            label = "alone"
            limit_text = (
                f"{noop_limit}; the door alone (stored, not parsed, not applied) "
                f"{fmt(floor['reports_per_second'])} reports/s"
            )
            ratio = f"{accepted / limit:.2f}"
            target = "≥ 10,000/s; ≥ 0.4; p99 < 50 ms; 100% correct"
            passed = sound and accepted >= 10_000 and accepted / limit >= 0.4
        else:
            label = "while a campaign dispatches"
            figure += f"; dispatch went on at {fmt(dispatched)} messages/s"
            limit_text = f"the dispatch beside it, {fmt(dispatched)} messages/s; {noop_limit}"
            ratio = f"{accepted / dispatched:.2f} × dispatch; {accepted / limit:.2f}"
            target = (
                "≥ 0.7 × dispatch; ≥ 5,000/s; all applied ≤ 2 s after the last; "
                "p99 < 50 ms; 100% correct"
            )
            passed = (
                sound
                and dispatched > 0
                and accepted >= 0.7 * dispatched
                and accepted >= 5000
                and applied_after <= 2.0
            )
        per_report = {name: seconds * 1e6 / items for name, seconds in cpu.items()}
        note = _cpu_note(cpu, stages, len(requests), items, dispatching=key == "b")
        if key == "a":
            note += ". " + _floor_note(floor, noop_before, noop_after, accepted / limit)
        bench.rows.append(
            report.Row(
                f"6{key} Delivery-report ingest (webhook, gunicorn), {label}",
                figure,
                limit_text,
                ratio,
                target,
                passed,
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
                    "noop_rates_before_after": [noop_before.rate, noop_after.rate],
                    "noop_p99_ms": noop.percentile(99),
                    "gunicorn_workers": GUNICORN_WORKERS,
                    "cpu_us_per_report": per_report,
                    "cpu_us_per_request": {
                        name: seconds * 1e6 / len(requests) for name, seconds in cpu.items()
                    },
                    "webhook_stages_us_per_request": stages,
                    **({"door_floor": floor} if key == "a" else {}),
                },
                note=note,
            )
        )


def _floor(bench: Bench, port: int, requests: list[load.Request], gunicorn_pid: int) -> dict:
    """The door's floor (``bench.floor``): 6a's callbacks posted again, each
    stored by the one INSERT and answered, with nothing screened, parsed,
    told or applied; its rate and CPU per request. The rows it stores are
    deleted at once: no worker is told of them, and nothing is left to run
    that would look (the applier's last look comes a quarter second after
    its run, and this turn starts more than a second after that run). A
    callback stored and not deleted here stops the scenario."""
    from bench.floor import FLOOR
    from providers.models import WebhookInbox

    floor_requests = [
        load.Request(r.method, f"{r.path}?{FLOOR}=1", r.body, r.headers, weight=r.weight)
        for r in requests
    ]
    parts = {"gunicorn": gunicorn_pid, "postgresql": bench.stack.postgres_pid()}
    before = {name: cpu_seconds(pid) for name, pid in parts.items()}
    tool_before = _own_cpu()
    done = load.run(port, iter(floor_requests), concurrency=GUNICORN_WORKERS)
    cpu = {name: cpu_seconds(pid) - before[name] for name, pid in parts.items()}
    cpu["load"] = _own_cpu() - tool_before
    stored, _ = WebhookInbox.objects.filter(query__has_key=FLOOR).delete()
    left = WebhookInbox.objects.count()
    if stored != done.statuses.get(200, 0) or left:
        raise RuntimeError(
            f"the floor stored {stored} callbacks for {done.statuses} answers; {left} left"
        )
    return {
        "reports_per_second": done.weight_rate,
        "requests_per_second": done.rate,
        "p99_ms": done.percentile(99),
        "statuses": done.statuses,
        "cpu_us_per_request": {name: used * 1e6 / done.requests for name, used in cpu.items()},
    }


def _together(*runs: load.Result) -> load.Result:
    """Turns of one load as one: their requests over their seconds."""
    statuses: dict[int, int] = {}
    for run in runs:
        for status, count in run.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    return load.Result(
        requests=sum(run.requests for run in runs),
        weight=sum(run.weight for run in runs),
        seconds=sum(run.seconds for run in runs),
        statuses=statuses,
        latencies=[latency for run in runs for latency in run.latencies],
    )


def _floor_note(floor: dict, before: load.Result, after: load.Result, ratio: float) -> str:
    """The door's floor beside the callbacks' own path, and the two no-op turns."""
    per = floor["cpu_us_per_request"]
    return (
        f"The door alone (the same callbacks stored by the one INSERT and answered; not "
        f"screened, parsed or applied): {fmt(floor['reports_per_second'])} reports/s, "
        f"{fmt(floor['requests_per_second'])} requests/s; CPU per request gunicorn "
        f"{fmt(per['gunicorn'])} µs, PostgreSQL {fmt(per['postgresql'])} µs, load tool "
        f"{fmt(per['load'])} µs. The no-op view gave {fmt(before.rate)} requests/s before "
        f"6a and {fmt(after.rate)} after the floor; the limit is both turns together "
        f"(ratio {ratio:.2f})"
    )


def _clear_drain_flag(done: threading.Event) -> None:
    from django.core.cache import cache

    from campaigns.reports import DRAIN_FLAG

    while not done.wait(0.01):
        cache.delete(DRAIN_FLAG)


def _own_cpu() -> float:
    """CPU seconds this process (the load tool, while it runs) has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _stages(before: dict, after: dict) -> dict:
    """CPU and wall µs per webhook request of each stage the gunicorn
    workers counted between two readings, and their CPU beside the stages
    (the server's own work)."""
    requests = after["requests"] - before["requests"]
    if requests <= 0:
        return {}
    out = {}
    for stage, (cpu, wall) in after["stages"].items():
        was_cpu, was_wall = before["stages"][stage]
        out[stage] = {
            "cpu": (cpu - was_cpu) * 1e6 / requests,
            "wall": (wall - was_wall) * 1e6 / requests,
        }
    counted = sum(stage["cpu"] for stage in out.values())
    process = (after["process_cpu"] - before["process_cpu"]) * 1e6 / requests
    out["server"] = {"cpu": process - counted, "wall": None}
    out["requests"] = requests
    return out


def _cpu_note(cpu: dict, stages: dict, requests: int, items: int, dispatching: bool) -> str:
    """Where the CPU went: per webhook request in gunicorn (by stage, where
    the workers counted them), and per report in every part, with the most
    reports a second this machine's cores give at that cost."""
    from providers import timing

    web = cpu["gunicorn"] * 1e6 / requests
    text = f"CPU per webhook request in gunicorn {fmt(web)} µs"
    if stages:
        shown = [s for s in ("server", *timing.STAGES) if stages[s]["cpu"] >= 0.5]
        text += " (" + ", ".join(f"{s} {fmt(stages[s]['cpu'])}" for s in shown) + ")"
        text += f"; the insert took {fmt(stages['insert']['wall'])} µs of wall time"
    per = {name: seconds * 1e6 / items for name, seconds in cpu.items()}
    total = sum(per.values())
    cores = os.cpu_count() or 1
    worker = "worker (applying, and dispatching)" if dispatching else "worker applying"
    text += (
        f". CPU per report: gunicorn {fmt(per['gunicorn'])} µs; {worker} {fmt(per['worker'])} µs; "
        f"PostgreSQL (inserts and applying{', dispatch' if dispatching else ''}) "
        f"{fmt(per['postgresql'])} µs; load tool {fmt(per['load'])} µs (together "
        f"{fmt(total)} µs: {cores} cores give at most {fmt(cores * 1e6 / total)} reports/s "
        "at that cost)"
    )
    return text


def _statuses(bench: Bench) -> dict:
    from django.db.models import Count

    from campaigns.models import Message

    rows = Message.objects.filter(campaign=bench.infobip_campaign).values("status")
    return {r["status"]: r["n"] for r in rows.annotate(n=Count("id"))}


def _pause(campaign_id: int) -> None:
    from campaigns.models import Campaign
    from campaigns.services import campaign_pause

    campaign = Campaign.objects.get(pk=campaign_id)
    if campaign.state == Campaign.State.RUNNING:
        campaign_pause(campaign=campaign, user=None, reason="Benchmark scenario over")


def _wait_for_mock(bench: Bench, kind: str, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while bench.mock(kind)["messages"] < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the {kind} mock received nothing in {timeout} s")
        time.sleep(0.2)


def _wait_applied(timeout: float) -> float:
    """Seconds until the worker has applied every stored callback."""
    from providers.models import WebhookInbox

    started = time.monotonic()
    while WebhookInbox.objects.exists():
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"stored callbacks still unapplied after {timeout} s")
        time.sleep(0.1)
    return time.monotonic() - started


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
