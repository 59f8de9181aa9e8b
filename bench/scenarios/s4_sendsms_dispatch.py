"""Scenario 4: dispatch to the sendsms mock, one message a request: the CPU
the engine's worker spends on each message against what PostgreSQL spends
on it in the same run. Two cores cannot give half of the mock's capacity
(wrk): the row also says what PostgreSQL alone spends on each message's two
row updates, and the most messages a second the cores give at the CPU each
part used."""

from __future__ import annotations

import json

from bench import report
from bench.scenarios.common import SENDSMS_KEY, Bench, cpu_note, fmt, log, mb


def _status_path_rate(bench: Bench, campaign) -> float:
    """What PostgreSQL alone spends on the two writes every sent message
    needs: claimed (to "sending", with its claim token and time), then
    answered (status, provider id, times). 500 rows a statement, run in
    psql on one backend with nothing else running, rolled back."""
    from campaigns.models import Message

    ids = list(
        Message.objects.filter(campaign=campaign).order_by("id").values_list("id", flat=True)
    )
    return bench.psql_rows_per_second(
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


def run(bench: Bench) -> None:
    from bench import data

    n = bench.size["sendsms"]
    acc = data.account(
        "Bench sendsms",
        "sendsms",
        base_url=bench.mock_url("sendsms") + "/",
        api_key=SENDSMS_KEY,
        throughput=1_000_000,
    )
    snd = data.sender("4930123456", acc)
    campaign = bench.small_campaign("Bench sendsms", acc, snd, n, first=30_000_000)
    body = json.dumps(
        {
            "action": "sendsms",
            "message-text": data.TEXT,
            "to": "4915112345678",
            "from": "4930123456",
        }
    )
    capacity = bench.wrk(
        bench.mock_url("sendsms") + "/",
        body=body,
        headers={"x-api-key": SENDSMS_KEY, "Content-Type": "application/json"},
        seconds=bench.size["tool_seconds"],
    )
    log(f"4: mock {capacity:,.0f} requests/s; dispatching {n:,} one per request")
    stats = bench.dispatch(campaign.pk, "sendsms", n, timeout=bench.size["dispatch_seconds"])
    rate = stats.get("rate", 0.0)
    floor = _status_path_rate(bench, campaign)
    cpu = stats.get("cpu_us_per_message") or {}
    engine, postgres = cpu.get("engine"), cpu.get("postgresql")
    measured = bool(engine and postgres)
    bench.rows.append(
        report.Row(
            "4 Dispatch to sendsms mock (1 per request)",
            f"{fmt(rate)} messages/s ({fmt(stats['messages'])} received); CPU per message: "
            + (
                f"engine {fmt(engine)} µs, PostgreSQL {fmt(postgres)} µs"
                if measured
                else "not measured (too short)"
            ),
            f"mock {fmt(capacity)} requests/s (wrk); PostgreSQL alone, the two updates "
            f"of each message: {fmt(floor)} messages/s ({fmt(1e6 / floor)} µs each)",
            f"{engine / postgres:.2f}" if measured else "—",
            "engine CPU per message ≤ PostgreSQL's",
            measured and engine <= postgres,
            f"{mb(stats['worker_peak_rss_mb'])} per worker process",
            {"rate": rate, "capacity": capacity, "status_path_rate": floor, **stats},
            note=cpu_note(cpu),
        )
    )
