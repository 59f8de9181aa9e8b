"""CSV exports streamed row by row from a server-side cursor, so a million
rows take as little memory as a thousand."""

from __future__ import annotations

import csv
import datetime as dt
import json
from contextlib import nullcontext
from dataclasses import dataclass
from decimal import Decimal

from django.db import connections, transaction
from django.http import StreamingHttpResponse
from rest_framework.renderers import BaseRenderer

# Spreadsheets run a cell starting with one of these as a formula (OWASP "CSV
# injection"); tab and carriage return can smuggle one in as well.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Rows fetched from the database per round trip, and written per chunk sent.
CHUNK_ROWS = 2000


@dataclass(frozen=True)
class Column:
    header: str
    # A key of queryset.values(): a field, a lookup through a relation, or an
    # annotation the view adds.
    source: str
    description: str


def escape(text: str) -> str:
    """A leading quote makes a spreadsheet show the cell as text. It also
    keeps the "+" of an E.164 number that would otherwise turn into a number."""
    return "'" + text if text.startswith(FORMULA_START) else text


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, int | Decimal | dt.date):
        return str(value)
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return escape(str(value))


class _Lines:
    """A file-like object for csv.writer that hands back what was written."""

    def __init__(self):
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def take(self) -> str:
        text = "".join(self.parts)
        self.parts.clear()
        return text


def rows(queryset, columns: list[Column]):
    """The CSV text of ``queryset``, a chunk at a time, header first."""
    out = _Lines()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.header for c in columns])
    yield out.take()
    sources = [c.source for c in columns]
    pending = 0
    with _snapshot(queryset.db):
        for values in queryset.values_list(*sources).iterator(chunk_size=CHUNK_ROWS):
            writer.writerow([cell(v) for v in values])
            pending += 1
            if pending >= CHUNK_ROWS:
                yield out.take()
                pending = 0
    if pending:
        yield out.take()


def _snapshot(alias: str):
    """On PostgreSQL a server-side cursor opened outside a transaction is
    declared WITH HOLD, and the server materialises the whole result before
    the first row; inside one it streams, and every row comes from the same
    snapshot. SQLite's transactions here take the write lock, so an export
    there runs without one."""
    if connections[alias].vendor == "postgresql":
        return transaction.atomic(using=alias)
    return nullcontext()


def response(queryset, columns: list[Column], filename: str) -> StreamingHttpResponse:
    streamed = StreamingHttpResponse(
        (chunk.encode() for chunk in rows(queryset, columns)),
        content_type="text/csv; charset=utf-8",
    )
    streamed["Content-Disposition"] = f'attachment; filename="{filename}"'
    # Proxies such as nginx would otherwise buffer the whole export.
    streamed["X-Accel-Buffering"] = "no"
    return streamed


def describe(columns: list[Column]) -> str:
    """The column list for the schema: names, order and meaning."""
    lines = [f"{i}. `{c.header}`: {c.description}" for i, c in enumerate(columns, 1)]
    return (
        "With `format=csv` (or `Accept: text/csv`) the whole filtered set is streamed "
        "as CSV, without pagination, newest first. Columns, always in this order:\n\n"
        + "\n".join(lines)
        + "\n\nTimes are UTC (ISO 8601). Text cells starting with `=`, `+`, `-`, `@`, "
        "tab or carriage return get a leading `'` so spreadsheets never run them as "
        "formulas (E.164 numbers therefore read `'+4915…`)."
    )


class CSVRenderer(BaseRenderer):
    """Lets content negotiation pick CSV. List views stream their rows
    themselves (see ``response``); this renders anything else given to it,
    one object per row, with the same escaping."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        objects = data if isinstance(data, list) else [data or {}]
        headers = list(dict.fromkeys(k for obj in objects for k in obj))
        out = _Lines()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(headers)
        for obj in objects:
            writer.writerow([cell(obj.get(h)) for h in headers])
        return out.take().encode()
