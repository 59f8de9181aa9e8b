"""CSV exports streamed a chunk at a time from a server-side cursor, so a
million rows take as little memory as a thousand."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice

from django.db import connections, transaction
from django.http import StreamingHttpResponse
from django.utils.dateparse import parse_datetime
from rest_framework import exceptions, serializers
from rest_framework.renderers import BaseRenderer

# Spreadsheets run a cell starting with one of these as a formula (OWASP "CSV
# injection"); tab and carriage return can smuggle one in as well.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A negative number starts with "-" but is only ever read as that number.
NEGATIVE_NUMBER = re.compile(r"-[0-9]+(\.[0-9]+)?")
# Rows fetched from the database per round trip, and written per chunk sent.
CHUNK_ROWS = 2000

ESCAPE_HELP = (
    "How text cells are written in CSV. `formulas` (the default): a cell starting with "
    "`=`, `+`, `-`, `@`, tab or carriage return (other than a negative number) gets a "
    "leading `'`, so a spreadsheet never runs it as a formula; E.164 numbers then read "
    "`'+4915…`. `none`: every cell exactly as stored, for programs that join on the values. "
    "Never open a file exported with `none` in a spreadsheet: a cell such as "
    "`=HYPERLINK(…)` in imported contact data would run as a formula."
)


@dataclass(frozen=True)
class Column:
    header: str
    # A key of queryset.values() (a field, a lookup through a relation, or an
    # annotation the view adds); for serialized rows, the key of the JSON
    # field, ``parent.key`` inside a nested object.
    source: str
    description: str
    # For serialized rows: turns the JSON value back into what ``cell`` writes.
    parse: Callable | None = None


class CSVOptions(serializers.Serializer):
    """Query parameters of every endpoint that offers CSV."""

    escape = serializers.ChoiceField(
        choices=["formulas", "none"],
        required=False,
        default="formulas",
        help_text=ESCAPE_HELP,
        error_messages={"invalid_choice": "Give formulas (the default) or none."},
    )


def escape_formulas(params) -> bool:
    """Whether the export asked for in ``params`` escapes formulas (a bad
    ``escape`` is a 400 naming it, whatever the format)."""
    options = CSVOptions(data={k: params[k] for k in CSVOptions().fields if k in params})
    if not options.is_valid():
        raise exceptions.ValidationError(options.errors)
    return options.validated_data["escape"] == "formulas"


def escape(text: str) -> str:
    """A leading quote makes a spreadsheet show the cell as text. It also
    keeps the "+" of an E.164 number that would otherwise turn into a number."""
    if text.startswith(FORMULA_START) and not NEGATIVE_NUMBER.fullmatch(text):
        return "'" + text
    return text


def cell(value, formulas: bool = True) -> str:
    """One value as CSV text; ``formulas=False`` leaves text as stored."""
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
    text = str(value)
    return escape(text) if formulas else text


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


def write(columns: list[Column], records: Iterable[Iterable], formulas: bool = True):
    """The CSV text of ``records`` (values in column order), header first,
    then CHUNK_ROWS rows at a time."""
    out = _Lines()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.header for c in columns])
    yield out.take()
    pending = 0
    for values in records:
        writer.writerow([cell(v, formulas) for v in values])
        pending += 1
        if pending >= CHUNK_ROWS:
            yield out.take()
            pending = 0
    if pending:
        yield out.take()


def rows(queryset, columns: list[Column], formulas: bool = True):
    """The CSV text of ``queryset``, read straight from the columns' sources."""
    with _snapshot(queryset.db):
        values = queryset.values_list(*[c.source for c in columns])
        yield from write(columns, values.iterator(chunk_size=CHUNK_ROWS), formulas)


def serialized_rows(
    queryset,
    columns: list[Column],
    serialize: Callable[[list], list[dict]],
    formulas: bool = True,
):
    """The CSV text of ``queryset`` as ``serialize`` writes it in JSON, read
    and serialized CHUNK_ROWS objects at a time, so the figures are those
    of the JSON and memory stays flat."""

    def serialized() -> Iterator[dict]:
        objects = queryset.iterator(chunk_size=CHUNK_ROWS)
        while chunk := list(islice(objects, CHUNK_ROWS)):
            yield from serialize(chunk)

    with _snapshot(queryset.db):
        yield from write(columns, records(serialized(), columns), formulas)


def records(serialized: Iterable[dict], columns: list[Column]) -> Iterator[list]:
    """Serialized rows as values in column order."""
    for data in serialized:
        yield [pick(data, c) for c in columns]


def pick(data: dict, column: Column):
    """The value of ``column`` in one serialized row."""
    for key in column.source.split("."):
        data = data.get(key) if isinstance(data, dict) else None
    if data is not None and column.parse is not None:
        return column.parse(data)
    return data


def serializer_columns(
    serializer: serializers.Serializer,
    spread: dict[str, serializers.Serializer] | None = None,
    descriptions: dict[str, str] | None = None,
) -> list[Column]:
    """The columns of a serializer's JSON: one per field, in order, and a
    nested object (a nested serializer, or one ``spread`` names for a
    computed field) over one ``parent_key`` column per key."""
    spread, descriptions = spread or {}, descriptions or {}
    columns = []
    for name, field in serializer.fields.items():
        nested = spread.get(name, field)
        if isinstance(nested, serializers.Serializer):
            columns += [
                Column(f"{name}_{key}", f"{name}.{key}", f"`{name}.{key}`: {_help(sub)}")
                for key, sub in nested.fields.items()
            ]
        else:
            # A time goes back to a time, so every CSV writes times alike (UTC).
            parse = parse_datetime if isinstance(field, serializers.DateTimeField) else None
            columns.append(Column(name, name, descriptions.get(name) or _help(field), parse))
    return columns


def _help(field) -> str:
    return str(field.help_text or field.label or "").rstrip(".")


def _snapshot(alias: str):
    """On PostgreSQL a server-side cursor opened outside a transaction is
    declared WITH HOLD, and the server materialises the whole result before
    the first row; inside one it streams, and every row comes from the same
    snapshot. SQLite's transactions here take the write lock, so an export
    there runs without one."""
    if connections[alias].vendor == "postgresql":
        return transaction.atomic(using=alias)
    return nullcontext()


def response(chunks: Iterable[str], filename: str) -> StreamingHttpResponse:
    streamed = StreamingHttpResponse(
        (chunk.encode() for chunk in chunks), content_type="text/csv; charset=utf-8"
    )
    streamed["Content-Disposition"] = f'attachment; filename="{filename}"'
    # Proxies such as nginx would otherwise buffer the whole export.
    streamed["X-Accel-Buffering"] = "no"
    return streamed


def describe(columns: list[Column], whole_set: bool = True) -> str:
    """The column list for the schema: names, order and meaning."""
    lines = [f"{i}. `{c.header}`: {c.description}" for i, c in enumerate(columns, 1)]
    what = (
        "the whole filtered set is streamed as CSV, without pagination, newest first"
        if whole_set
        else "the rows are written as CSV, in the same order"
    )
    return (
        f"With `format=csv` (or `Accept: text/csv`) {what}. Columns, always in this order:\n\n"
        + "\n".join(lines)
        + "\n\nTimes are UTC (ISO 8601); lists and objects are JSON. Text cells starting "
        "with `=`, `+`, `-`, `@`, tab or carriage return (other than a negative number) get "
        "a leading `'` so spreadsheets never run them as formulas (E.164 numbers therefore "
        "read `'+4915…`); `escape=none` writes every cell as stored."
    )


class CSVRenderer(BaseRenderer):
    """Lets content negotiation pick CSV. The views write their rows
    themselves (see ``response``); this renders anything else given to it,
    one object per row, with the same escaping."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        objects = data if isinstance(data, list) else [data or {}]
        headers = list(dict.fromkeys(k for obj in objects for k in obj))
        return "".join(
            write(
                [Column(h, h, "") for h in headers], ([o.get(h) for h in headers] for o in objects)
            )
        ).encode()
