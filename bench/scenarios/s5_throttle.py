"""Scenario 5: the throughput limit of a provider account, one throttled
account on each mock: the busiest second and the mean rate against the
configured rate."""

from __future__ import annotations

from bench import report
from bench.scenarios.common import INFOBIP_KEY, SENDSMS_KEY, Bench, fmt, log, mb

# Below what the engine sends unthrottled on two cores (scenarios 3 and 4),
# so the limiter, not the engine, is what holds the rate.
THROTTLE_INFOBIP = 100
THROTTLE_SENDSMS = 20


def run(bench: Bench) -> None:
    from bench import data

    seconds = bench.size["throttle_seconds"]
    cases = [
        ("infobip", THROTTLE_INFOBIP, {"auth_type": "app_key"}, INFOBIP_KEY, "BenchShop"),
        ("sendsms", THROTTLE_SENDSMS, {}, SENDSMS_KEY, "4930123456"),
    ]
    for index, (kind, rate, options, key, sender_value) in enumerate(cases):
        acc = data.account(
            f"Bench throttled {kind}",
            kind,
            base_url=bench.mock_url(kind) + "/",
            api_key=key,
            throughput=rate,
            **options,
        )
        snd = data.sender(sender_value, acc)
        n = rate * seconds
        campaign = bench.small_campaign(
            f"Bench throttled {kind}", acc, snd, n, first=40_000_000 + index * 1_000_000
        )
        log(f"5: {kind} account at {rate}/s, {n:,} messages")
        stats = bench.dispatch(campaign.pk, kind, n, timeout=seconds * 3 + 60)
        measured = stats.get("rate", 0.0)
        busiest = stats["max_in_1s"]
        bench.rows.append(
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
