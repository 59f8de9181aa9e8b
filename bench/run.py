"""Run the eight scenarios of the performance design against their limits.

``python -m bench.run [--scale quick|full] [--only 2,3]`` (``make bench``,
``make bench SCALE=full``). Starts PostgreSQL and Redis in a throw-away
directory, the provider mocks, Celery workers and gunicorn as each scenario
needs them, and stops everything at the end. Each limit is measured in the
same run on the same machine; the table goes to ``bench/results/``. Each
scenario is a module of ``bench.scenarios``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
import traceback

from bench import report
from bench.scenarios import (
    s1_import,
    s2_launch,
    s3_infobip_dispatch,
    s4_sendsms_dispatch,
    s5_throttle,
    s6_report_ingest,
    s7_pages,
    s8_redirect,
)
from bench.scenarios.common import SCALES, Bench


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
        ("2", s2_launch.run),
        ("3", s3_infobip_dispatch.run),
        ("6", s6_report_ingest.run),
        ("4", s4_sendsms_dispatch.run),
        ("5", s5_throttle.run),
        ("7", s7_pages.run),
        # After 7: the redirect uses its database of message rows.
        ("8", s8_redirect.run),
        ("1", s1_import.run),
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
                scenario(bench)
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
