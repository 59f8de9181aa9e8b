"""Scenario 1: import a CSV into a list with the contacts import service,
against phonenumbers alone on every core and COPY of the normalised rows in
psql."""

from __future__ import annotations

import csv
import datetime as dt
import multiprocessing
import os
import time

from bench import report
from bench.scenarios.common import Bench, fmt, log, mb


def run(bench: Bench) -> None:
    from bench import importer
    from bench.data import import_file

    n = bench.size["import_rows"]
    path = str(bench.stack.work / "contacts.csv")
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
    copy_file = bench.stack.work / "normalised.csv"
    now = dt.datetime.now(dt.UTC).isoformat()
    with open(copy_file, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        for (e164, country, zone), row in normalised.values():
            out.writerow([e164, row[1], row[2], "{}", country, zone, now, now])
    bench.stack.psql("CREATE TABLE bench_copy (LIKE contacts_contact INCLUDING ALL)")
    started = time.perf_counter()
    bench.stack.psql(
        "\\copy bench_copy (phone, first_name, last_name, attributes, country, time_zone, "
        f"created_at, updated_at) FROM '{copy_file}' CSV"
    )
    copy_seconds = time.perf_counter() - started
    bench.stack.psql("DROP TABLE bench_copy")
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
        bench.rows.append(
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
    result = bench.child("import", path, str(target.pk), "DE")
    rate = n / result["seconds"]
    bench.rows.append(
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
