"""Scenario 3: dispatch of the campaign scenario 2 launched to the Infobip
mock, 1,000 messages a request, against the mock's capacity (wrk) and what
PostgreSQL alone does for the status path."""

from __future__ import annotations

import json

from bench import report
from bench.scenarios.common import INFOBIP_KEY, Bench, fmt, log, mb


def run(bench: Bench) -> None:
    from campaigns.dispatch import send_options
    from providers.base import OutboundSms

    backend = bench.infobip.backend()
    sample = [
        OutboundSms(
            ref=str(i), to=f"+49151{i:08d}", text=bench.infobip_campaign.text, sender="BenchShop"
        )
        for i in range(backend.max_destinations)
    ]
    body = json.dumps(backend.build_request(sample, send_options(bench.infobip_campaign)))
    capacity = bench.wrk(
        f"{bench.mock_url('infobip')}/sms/2/text/advanced",
        body=body,
        headers={"Authorization": f"App {INFOBIP_KEY}", "Content-Type": "application/json"},
        seconds=bench.size["tool_seconds"],
    ) * len(sample)
    log(f"3: mock capacity {capacity:,.0f} messages/s; dispatching {bench.sendable:,}")
    window = bench.size["dispatch_seconds"]
    stats = bench.dispatch(bench.infobip_campaign.pk, "infobip", bench.sendable, timeout=window)
    rate = stats.get("rate", 0.0)
    update_rate = _batched_update_rate(bench)
    limit = min(capacity, update_rate)
    flat = (stats["worker_rss_last_mb"] or 0) <= (stats["worker_rss_first_mb"] or 0) * 1.25
    bench.rows.append(
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
                f"{fmt(bench.sendable)} sent, the rest left paused"
                if stats["timed_out"]
                else ""
            ),
        )
    )


def _batched_update_rate(bench: Bench) -> float:
    """What PostgreSQL alone does for the status path: the columns a
    submit result sets, by id, 1,000 rows a statement, run in psql. Rolled
    back, so the campaign stays as the engine left it."""
    from campaigns.models import Message

    ids = list(
        Message.objects.filter(campaign=bench.infobip_campaign)
        .order_by("id")
        .values_list("id", flat=True)[: min(100_000, bench.sendable)]
    )
    return bench.psql_rows_per_second(
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
