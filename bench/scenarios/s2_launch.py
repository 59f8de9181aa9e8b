"""Scenario 2: launching a campaign, which materialises its recipients. The
campaign it launches is the one scenarios 3 and 6 work on."""

from __future__ import annotations

import contextlib
import re

from bench import report
from bench.scenarios.common import INFOBIP_KEY, Bench, fmt, log, mb


def run(bench: Bench) -> None:
    """Materialise 1M recipients; the limit is the same INSERT … SELECT
    run bare with psql."""
    from django.db import connection

    from bench import data
    from campaigns import services

    n = bench.size["recipients"]
    log(f"2: {n:,} contacts in two overlapping lists, 1% suppressed")
    ids = data.contacts(n, first=10_000_000)
    everyone = data.contact_list("Bench everyone", ids)
    again = data.contact_list("Bench newsletter", ids, every=10)  # 10% in both lists
    suppressed = data.suppress(ids, 100)
    infobip = data.account(
        "Bench Infobip",
        "infobip",
        base_url=bench.mock_url("infobip"),
        api_key=INFOBIP_KEY,
        throughput=1_000_000,
        auth_type="app_key",
    )
    snd = data.sender("BenchShop", infobip)
    campaign = data.running_campaign("Bench 1M", infobip, snd, everyone, again)
    bench.infobip_campaign = campaign
    bench.infobip = infobip

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
    bench.stack.psql("VACUUM ANALYZE")
    bench.stack.psql("CHECKPOINT")
    # Warm the caches the same way before both runs.
    bench.stack.psql(
        "SELECT count(*) FROM contacts_contact; SELECT count(*) FROM contacts_listmembership"
    )
    script = bench.stack.work / "bare.sql"
    script.write_text(f"\\timing on\nBEGIN;\n{bare_sql};\nROLLBACK;\n")
    out = bench.stack.psql("", input_file=str(script))
    times = [float(t) for t in re.findall(r"Time: ([\d.]+) ms", out)]
    bare = max(times) / 1000
    bench.stack.psql("VACUUM campaigns_message")
    bench.stack.psql("CHECKPOINT")
    log(f"2: bare INSERT … SELECT {bare:.2f} s; now materialise()")
    result = bench.child("materialise", str(campaign.pk))
    seconds = result["seconds"]
    ratio = bare / seconds
    bench.recipients = result["inserted"]
    bench.sendable = result["inserted"] - suppressed
    bench.rows.append(
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
