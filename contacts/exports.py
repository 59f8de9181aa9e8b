"""CSV exports of contacts and suppressions, streamed: rows are read from
the database in chunks and written as they go, so a million contacts take
no more memory than a thousand."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django.db import connection
from django.http import StreamingHttpResponse
from django.utils import timezone

from .imports import safe_cell
from .models import Contact, Suppression

CHUNK = 2000


class _Echo:
    def write(self, value):
        return value


def attribute_keys(contacts) -> list[str]:
    """Every attribute key the contacts use, for the header row; one query."""
    ids = contacts.values("id")
    table = Contact._meta.db_table
    sql, params = ids.query.sql_with_params()
    if connection.vendor == "postgresql":
        query = (
            f"SELECT DISTINCT jsonb_object_keys(attributes) FROM {table} "  # noqa: S608
            f"WHERE id IN ({sql})"
        )
    else:
        query = (
            f"SELECT DISTINCT j.key FROM {table}, json_each({table}.attributes) j "  # noqa: S608
            f"WHERE {table}.id IN ({sql})"
        )
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return sorted(row[0] for row in cursor.fetchall())


def contact_rows(contacts) -> Iterator[list]:
    keys = attribute_keys(contacts)
    yield ["phone", "first_name", "last_name", "country", "time_zone", "created_at", *keys]
    fields = (
        "phone",
        "first_name",
        "last_name",
        "country",
        "time_zone",
        "created_at",
        "attributes",
    )
    for row in contacts.order_by("id").values_list(*fields).iterator(chunk_size=CHUNK):
        attributes = row[6] or {}
        yield [
            *row[:5],
            row[5].isoformat(timespec="seconds"),
            *(attributes.get(k, "") for k in keys),
        ]


def suppression_rows(suppressions=None) -> Iterator[list]:
    suppressions = suppressions if suppressions is not None else Suppression.objects.all()
    yield ["phone", "reason", "note", "created_at"]
    fields = ("phone", "reason", "note", "created_at")
    for phone, reason, note, created in (
        suppressions.order_by("id").values_list(*fields).iterator(chunk_size=CHUNK)
    ):
        yield [phone, reason, note, created.isoformat(timespec="seconds")]


def csv_lines(rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    # A byte-order mark so spreadsheet programs read the file as UTF-8.
    yield "\ufeff"
    for row in rows:
        yield writer.writerow([safe_cell(cell) for cell in row])


def csv_response(rows: Iterable[list], name: str) -> StreamingHttpResponse:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    filename = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)[:60] or "export"
    response = StreamingHttpResponse(csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.csv"'
    return response
