"""Product work run in a process of its own, so its time and peak memory are
its own: ``python -m bench.child <what> ...`` prints one JSON object.

- ``materialise <campaign id>``: ``campaigns.services.materialise``.
- ``pages <rows> <campaigns> <samples>``: fills the (empty) database with a
  message history and times the message log and campaign pages through the
  whole Django stack, in process (server time, no network), and the raw
  keyset SQL the message log runs.
- ``import <csv> <list id> <region>``: the contact import service.
"""

from __future__ import annotations

import json
import os
import sys
import time


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))] * 1000


def materialise(campaign_id: str) -> dict:
    from campaigns import services

    started = time.perf_counter()
    inserted = services.materialise(int(campaign_id))
    return {"seconds": time.perf_counter() - started, "inserted": inserted}


def pages(rows: str, campaigns: str, samples: str) -> dict:
    from django.db import connection
    from django.db.models import Max, Min
    from django.test import Client

    from bench import data
    from campaigns.models import Message

    made = data.message_history(int(rows), int(campaigns))
    client = Client()
    client.force_login(data.analyst())
    middle = made[len(made) // 2]
    span = Message.objects.filter(campaign=middle).aggregate(lo=Min("id"), hi=Max("id"))
    deep = span["lo"] + (span["hi"] - span["lo"]) // 2
    log = f"/messages/?campaign={middle.pk}&status=delivered&phone=%2B49"
    urls = {
        "log_first": log,
        "log_deep": f"{log}&after={deep}",
        "campaign": f"/campaigns/{middle.pk}/",
    }
    out: dict = {"rows": Message.objects.count()}
    captured: list = []

    def capture(execute, sql, params, many, context):
        if "ORDER BY" in sql and Message._meta.db_table in sql and "LIMIT" in sql:
            captured.append((sql, params))
        return execute(sql, params, many, context)

    for name, url in urls.items():
        for _ in range(3):  # warm caches and connections, as a live server has them
            response = client.get(url)
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}")
        times = []
        for _ in range(int(samples)):
            started = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - started)
        out[name] = _p95(times)
        if name == "log_deep":
            with connection.execute_wrapper(capture):
                client.get(url)
    sql, params = captured[0]
    times = []
    with connection.cursor() as cursor:
        for _ in range(int(samples)):
            started = time.perf_counter()
            cursor.execute(sql, params)
            cursor.fetchall()
            times.append(time.perf_counter() - started)
        cursor.execute("EXPLAIN " + sql, params)
        out["plan"] = "\n".join(row[0] for row in cursor.fetchall())
    out["raw_sql"] = _p95(times)
    out["urls"] = urls
    out["export"] = _export(client, middle.pk)
    return out


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _export(client, campaign_id: int) -> dict:
    """The REST export's streamed CSV of one campaign's messages, read to the
    end through the whole Django stack: rows, time, and this process's
    memory before and while it streams."""
    import gc

    gc.collect()
    before = _rss_mb()
    url = f"/api/v1/messages/?campaign={campaign_id}&format=csv"
    started = time.perf_counter()
    response = client.get(url)
    if response.status_code != 200 or not response.streaming:
        raise SystemExit(f"{url} answered {response.status_code}, streaming={response.streaming}")
    lines = size = 0
    highest = before
    for index, chunk in enumerate(response.streaming_content):
        lines += chunk.count(b"\n")
        size += len(chunk)
        if index % 200 == 0:
            highest = max(highest, _rss_mb())
    seconds = time.perf_counter() - started
    return {
        "url": url,
        "rows": lines - 1,
        "bytes": size,
        "seconds": seconds,
        "rss_before_mb": before,
        "rss_highest_mb": max(highest, _rss_mb()),
    }


def import_csv(path: str, list_id: str, region: str) -> dict:
    from bench.importer import run_import

    started = time.perf_counter()
    result = run_import(path, int(list_id), region)
    return {"seconds": time.perf_counter() - started, **result}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsportal.settings")
    import django

    django.setup()
    what, *args = sys.argv[1:]
    handler = {"materialise": materialise, "pages": pages, "import": import_csv}[what]
    result = handler(*args)
    result["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
