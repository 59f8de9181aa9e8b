"""Scenario 7: the message log and campaign pages (7a to 7c) and the
streamed CSV export of one campaign (7d), each in a database of the scale's
message history against the same in a small one."""

from __future__ import annotations

import json
import os
import subprocess

from bench import report
from bench.scenarios.common import Bench, fmt, log, mb
from bench.servers import PYTHON, ROOT

SMALL_HISTORY = 10_000


def run(bench: Bench) -> None:
    big, small = bench.size["history"], SMALL_HISTORY
    results = {}
    for name, rows in (("pages_big", big), ("pages_small", small)):
        url = bench.stack.createdb(name)
        env = os.environ | {"DATABASE_URL": url}
        subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            check=True,
            env=env,
        )
        log(f"7: {rows:,} message rows, then the pages")
        done = subprocess.run(
            [PYTHON, "-m", "bench.child", "pages", str(rows), "10", str(bench.size["samples"])],
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
        bench.rows.append(
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
    bench.pages_plan = b["plan"]
    big_export, small_export = b["export"], s["export"]
    growth = big_export["rss_highest_mb"] - big_export["rss_before_mb"]
    small_growth = small_export["rss_highest_mb"] - small_export["rss_before_mb"]
    bench.rows.append(
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
