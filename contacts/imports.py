"""Contact files in, contacts out: a first look at an uploaded file, then the
streaming import itself.

The file is read row by row (memory stays flat whatever its size). Numbers
are normalised by a pool of processes, one per core, because phonenumbers
is pure Python and is what limits the rate. Valid rows go to a staging table
(PostgreSQL: COPY; SQLite: batched inserts), invalid ones to an error report
beside the file. One transaction merges the staged rows, set-based: contacts
by number, then list memberships; a large file on PostgreSQL is merged in
chunks while it is still being read, inside that one transaction. Until its
commit nothing is visible, so a failed import has imported nothing.

``run_import(path, contact_list=..., mapping=..., default_country=...)``
is the whole import as one call.
"""

# SQL here names tables from model metadata and module constants; every
# value goes in as a parameter.
# ruff: noqa: S608

from __future__ import annotations

import codecs
import collections
import contextlib
import csv
import io
import json
import logging
import multiprocessing
import os
import queue
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from smsportal.phones import InvalidNumber, normalise

from .models import Contact, ContactList, ListMembership, Suppression

log = logging.getLogger(__name__)

# A physical line longer than this is not a contact: the file is something
# else (a minified dump, a binary, one enormous cell) and reading on would
# only use memory.
MAX_LINE_CHARS = 1_000_000
# Longest cell we store (names are capped by their columns).
MAX_CELL_CHARS = 1_000
NAME_MAX_CHARS = 100
BATCH_ROWS = 10_000
SAMPLE_ROWS = 10
SNIFF_BYTES = 256 * 1024

csv.field_size_limit(MAX_LINE_CHARS)

PHONE, FIRST_NAME, LAST_NAME, ATTRIBUTE = "phone", "first_name", "last_name", "attr:"
PHONE_HEADERS = {
    "phone", "phonenumber", "phone number", "number", "mobile", "mobilenumber", "mobile number",
    "msisdn", "cell", "cellphone", "tel", "telephone", "gsm", "handy", "whatsapp",
    "telefon", "telefonnummer", "mobil", "mobilnummer", "handynummer", "telephone number",
    "téléphone", "portable", "teléfono", "telefono", "celular", "movil", "móvil",
}  # fmt: skip
FIRST_HEADERS = {
    "first name", "firstname", "first", "given name", "givenname", "forename", "name",
    "vorname", "prénom", "prenom", "nombre",
}  # fmt: skip
LAST_HEADERS = {
    "last name", "lastname", "last", "surname", "family name", "familyname",
    "nachname", "nom", "apellido", "apellidos",
}  # fmt: skip


class ImportFileError(Exception):
    """The file as a whole cannot be imported; the message says why, for
    the person who uploaded it."""


# ---------------------------------------------------------------- first look


@dataclass
class Inspection:
    file_format: str  # "csv" or "xlsx"
    encoding: str = ""
    delimiter: str = ""
    has_header: bool = True
    columns: list[str] = field(default_factory=list)
    sample_rows: list[list[str]] = field(default_factory=list)


def inspect(path: str | Path) -> Inspection:
    """Work out what the file is, how to read it, and its first rows."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise ImportFileError("The file is empty.")
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if head.startswith(b"PK\x03\x04"):
        result = Inspection(file_format="xlsx")
        rows = list(_take(_xlsx_rows(path), SAMPLE_ROWS + 1))
    elif head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(
            "This is an old Excel (.xls) workbook: save it as .xlsx or as CSV and upload that."
        )
    else:
        encoding = detect_encoding(head)
        text = head.decode(encoding, errors="replace" if len(head) == SNIFF_BYTES else "strict")
        if "\x00" in text:
            raise ImportFileError(
                "This is not a text (CSV) file or an Excel workbook: it contains binary data."
            )
        if len(head) == SNIFF_BYTES and "\n" not in text and "\r" not in text:
            raise ImportFileError(
                "The first line is longer than 256 KB: this is not a CSV file with one contact "
                "per line."
            )
        result = Inspection(file_format="csv", encoding=encoding, delimiter=sniff_delimiter(text))
        try:
            rows = list(_take(_csv_rows(path, encoding, result.delimiter), SAMPLE_ROWS + 1))
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                "The file's text encoding could not be recognised; save it as UTF-8 CSV."
            ) from exc
    rows = [cells for _, cells, _ in rows]
    if not rows:
        raise ImportFileError("The file has no rows.")
    result.has_header = looks_like_header(rows[0])
    if result.has_header and len(rows) == 1:
        raise ImportFileError("The file has a header row and no contacts under it.")
    # With a header, it says how many columns there are; cells beyond it
    # make a row ragged (reported per row).
    width = len(rows[0]) if result.has_header else max(len(r) for r in rows)
    if result.has_header:
        result.columns = [c.strip() or f"Column {i + 1}" for i, c in enumerate(rows[0])]
        result.sample_rows = rows[1:]
    else:
        result.columns = [f"Column {i + 1}" for i in range(width)]
        result.sample_rows = rows[:SAMPLE_ROWS]
    return result


def detect_encoding(head: bytes) -> str:
    """By byte-order mark, then by whether it is valid UTF-8; otherwise the
    Windows code page spreadsheets on Western machines save in."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # UTF-16 without a mark: every other byte of ASCII text is zero.
    if len(head) >= 4 and head[1::2].count(0) > 0.9 * len(head[1::2]) and 0 not in head[::2]:
        return "utf-16-le"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # The sample may cut a character in two at its very end.
        if exc.start >= len(head) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def sniff_delimiter(text: str) -> str:
    lines = text.splitlines()
    sample = "\n".join(lines[:50] if len(lines) > 1 else lines)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        # One column (just numbers), or too irregular to tell: the default.
        counts = {d: sample.count(d) for d in ",;\t|"}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def looks_like_header(cells: list[str]) -> bool:
    """A first row with something like a phone number in it is data."""
    for cell in cells:
        digits = sum(ch.isdigit() for ch in cell)
        if digits >= 6:
            return False
    return any(cell.strip() for cell in cells)


def guess_mapping(columns: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for index, name in enumerate(columns):
        key = name.strip().lower().replace("_", " ").replace("-", " ")
        for target, names in ((PHONE, PHONE_HEADERS), (FIRST_NAME, FIRST_HEADERS),
                              (LAST_NAME, LAST_HEADERS)):  # fmt: skip
            if target not in taken and (key in names or key.replace(" ", "") in names):
                mapping[str(index)] = target
                taken.add(target)
                break
    if PHONE not in taken and len(columns) == 1:
        mapping["0"] = PHONE
    return mapping


def attribute_key(column: str) -> str:
    """A column name as a placeholder-friendly attribute key."""
    key = "".join(ch if ch.isalnum() else "_" for ch in column.strip().lower()).strip("_")
    while "__" in key:
        key = key.replace("__", "_")
    if not key:
        return ""
    return key if not key[0].isdigit() else f"c_{key}"


# ------------------------------------------------------------------ reading


def _take(iterator, n):
    for i, item in enumerate(iterator):
        if i >= n:
            break
        yield item


def _lines(text: io.TextIOBase) -> Iterator[str]:
    number = 0
    while True:
        line = text.readline(MAX_LINE_CHARS)
        if not line:
            return
        number += 1
        if len(line) >= MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
            raise ImportFileError(
                f"Line {number:,} is longer than {MAX_LINE_CHARS:,} characters: this is not "
                "a contact file with one contact per line."
            )
        yield line


def _csv_rows(path: Path, encoding: str, delimiter: str) -> Iterator[tuple[int, list[str], int]]:
    """(row number, cells, bytes read so far); blank lines are skipped."""
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        reader = csv.reader(_lines(text), delimiter=delimiter)
        row_no = 0
        try:
            for cells in reader:
                row_no += 1
                if not cells or not any(cells):
                    continue
                yield row_no, cells, raw.tell() if row_no % 1000 == 0 else -1
        except csv.Error as exc:
            raise ImportFileError(f"Row {row_no + 1:,} cannot be read as CSV: {exc}.") from exc


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # Spreadsheets store typed-in numbers as floats: 4915112345678.0.
        return str(int(value)) if value.is_integer() and abs(value) < 1e17 else repr(value)
    if isinstance(value, datetime | date | dtime):
        return value.isoformat()
    return str(value)


def _xlsx_rows(path: Path) -> Iterator[tuple[int, list[str], int]]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise ImportFileError(
            "This file is not a readable Excel workbook (.xlsx); save it again from your "
            "spreadsheet program, or as CSV."
        ) from exc
    try:
        sheet = workbook.worksheets[0]
        for row_no, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_cell_text(v) for v in values]
            while cells and cells[-1] == "":
                cells.pop()
            if cells:
                yield row_no, cells, row_no
    except zipfile.BadZipFile as exc:
        raise ImportFileError("The workbook is damaged and cannot be read to the end.") from exc
    finally:
        workbook.close()


def xlsx_row_count(path: Path) -> int:
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        return workbook.worksheets[0].max_row or 0
    finally:
        workbook.close()


# -------------------------------------------------------------- normalising


@dataclass(frozen=True)
class Layout:
    """Where the mapped columns are, and how staged rows are written."""

    phone: int
    first_name: int | None
    last_name: int | None
    attributes: tuple[tuple[int, str], ...]
    width: int
    default_country: str
    copy_text: bool  # PostgreSQL COPY text format, or tuples for inserts


_SEEN: dict[str, object] = {}
_SEEN_MAX = 200_000


def _normalise_cached(raw: str, region: str):
    """Repeated numbers (a file's duplicates) are parsed once per process."""
    result = _SEEN.get(raw)
    if result is None:
        try:
            result = normalise(raw, region)
        except InvalidNumber as exc:
            result = str(exc)
        if len(_SEEN) >= _SEEN_MAX:
            _SEEN.clear()
        _SEEN[raw] = result
    return result


# One encoder for every row (json.dumps with options builds a new one each call).
_to_json = json.JSONEncoder(ensure_ascii=False).encode


def _copy_escape(value: str) -> str:
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
        value = value.replace("\r", "\\r")
    return value


def process_batch(layout: Layout, rows: list[tuple[int, list[str]]]):
    """Runs in a pool process: normalise and validate one batch of rows.
    Returns (staged, errors): staged rows ready for the staging table (one
    COPY text block, or a list of tuples), errors as (row, cells, reason)."""
    region = layout.default_country
    staged_text: list[str] = []
    staged_rows: list[tuple] = []
    errors: list[tuple[int, list[str], str]] = []
    phone_at, first_at, last_at = layout.phone, layout.first_name, layout.last_name
    for row_no, cells in rows:
        if len(cells) > layout.width and any(c.strip() for c in cells[layout.width :]):
            errors.append(
                (row_no, cells, f"has {len(cells)} cells, but the file has {layout.width} columns")
            )
            continue
        raw = cells[phone_at].strip() if phone_at < len(cells) else ""
        number = _normalise_cached(raw, region)
        if isinstance(number, str):
            errors.append((row_no, cells, f"phone number: {number}"))
            continue
        first = cells[first_at].strip() if first_at is not None and first_at < len(cells) else ""
        last = cells[last_at].strip() if last_at is not None and last_at < len(cells) else ""
        if len(first) > NAME_MAX_CHARS or len(last) > NAME_MAX_CHARS:
            errors.append((row_no, cells, f"a name is longer than {NAME_MAX_CHARS} characters"))
            continue
        attributes = {}
        too_long = False
        for index, key in layout.attributes:
            value = cells[index].strip() if index < len(cells) else ""
            if len(value) > MAX_CELL_CHARS:
                too_long = True
                break
            # Empty cells never erase what a contact already has.
            if value:
                attributes[key] = value
        if too_long:
            errors.append((row_no, cells, f"a cell is longer than {MAX_CELL_CHARS} characters"))
            continue
        attrs = _to_json(attributes) if attributes else "{}"
        if layout.copy_text:
            staged_text.append(
                f"{row_no}\t{number.e164}\t{number.country}\t{number.time_zone}\t"
                f"{_copy_escape(first)}\t{_copy_escape(last)}\t{_copy_escape(attrs)}\n"
            )
        else:
            staged_rows.append(
                (row_no, number.e164, number.country, number.time_zone, first, last, attrs)
            )
    if layout.copy_text:
        return "".join(staged_text), len(staged_text), errors
    return staged_rows, len(staged_rows), errors


class _Normalisers:
    """Batches out to a process pool, results back in order, with at most a
    few batches in flight so memory stays bounded."""

    def __init__(self, layout: Layout, processes: int):
        self.layout = layout
        self.processes = processes
        self.pool = None
        self.submitted = 0
        self.pending: collections.deque = collections.deque()

    def start(self):
        if self.pool is None and self.processes > 1:
            self.pool = _start_pool(self.processes)

    def submit(self, rows):
        # A file of one batch is done before a pool would have started.
        if self.submitted:
            self.start()
        self.submitted += 1
        if self.pool is None:
            self.pending.append(_Done(process_batch(self.layout, rows)))
        else:
            self.pending.append(self.pool.apply_async(process_batch, (self.layout, rows)))

    def ready(self, drain=False) -> Iterator:
        limit = 0 if drain else 2 * max(self.processes, 1)
        while len(self.pending) > limit or (self.pending and self.pending[0].ready()):
            yield self.pending.popleft().get()

    def close(self):
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None


@dataclass
class _Done:
    value: object

    def ready(self):
        return True

    def get(self):
        return self.value


def _start_pool(processes: int):
    try:
        # Fork: the children inherit the loaded phonenumbers metadata.
        return multiprocessing.get_context("fork").Pool(processes)
    except (AssertionError, OSError, ValueError):
        # Inside a daemonic worker process, or no fork here: one process it is.
        log.warning(
            "contact import on one process: run imports on the imports queue "
            "(celery worker -Q imports -P solo) to use every core"
        )
        return None


def import_processes() -> int:
    configured = getattr(settings, "CONTACT_IMPORT_PROCESSES", 0)
    return configured if configured > 0 else (os.cpu_count() or 1)


# ------------------------------------------------------------------ staging

STAGE = "contacts_import_stage"
UNIQUE = "contacts_import_unique"
WRITTEN = "contacts_import_written"
UPDATED = "contacts_import_updated"

# On PostgreSQL a file larger than this is merged a chunk at a time while it
# is still being read (see _Merger); a smaller one is merged at the end.
OVERLAP_MIN_BYTES = 8 * 1024 * 1024
MERGE_CHUNK_ROWS = 100_000


class _Stage:
    def __init__(self):
        self.vendor = connection.vendor
        self.copy_text = self.vendor == "postgresql"

    def create(self):
        json_type = "jsonb" if self.vendor == "postgresql" else "text"
        with connection.cursor() as cursor:
            self.drop(cursor)
            cursor.execute(
                f"CREATE TEMPORARY TABLE {STAGE} (row_no bigint, phone varchar(16), "
                "country varchar(2), time_zone varchar(64), first_name varchar(100), "
                f"last_name varchar(100), attributes {json_type})"
            )

    # Rows are written on the reading side's own connection.
    threaded = False

    def abort(self):
        self.drop()

    def drop(self, cursor=None):
        if cursor is None:
            with connection.cursor() as cursor:
                self.drop(cursor)
            return
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        cursor.execute(f"DROP TABLE IF EXISTS {UNIQUE}")

    def write(self, staged, count: int = 0):
        if not staged:
            return
        with connection.cursor() as cursor:
            if self.copy_text:
                columns = "row_no, phone, country, time_zone, first_name, last_name, attributes"
                with cursor.cursor.copy(f"COPY {STAGE} ({columns}) FROM STDIN") as copy:
                    copy.write(staged)
            else:
                cursor.executemany(
                    f"INSERT INTO {STAGE} VALUES (%s, %s, %s, %s, %s, %s, %s)", staged
                )


# --------------------------------------------------------------------- merge


@dataclass
class ImportSummary:
    rows_read: int = 0
    rows_valid: int = 0
    rows_invalid: int = 0
    created: int = 0
    updated: int = 0
    added: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    error_report: str = ""

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds else 0.0


# The last row for a number wins (a later line is a later correction).
_LAST_ROW_PER_NUMBER = (
    "SELECT row_no, phone, country, time_zone, first_name, last_name, attributes FROM "
    f"(SELECT *, ROW_NUMBER() OVER (PARTITION BY phone ORDER BY row_no DESC) AS rn FROM {STAGE}) "
    "ranked WHERE rn = 1"
)


def _dedupe(cursor, vendor, *, again: bool = False) -> None:
    """The staged rows, one per number, into UNIQUE (made here, or emptied
    and filled ``again``: one table for every chunk of a transaction)."""
    if again:
        cursor.execute(f"TRUNCATE {UNIQUE}")
        cursor.execute(f"INSERT INTO {UNIQUE} {_LAST_ROW_PER_NUMBER}")
    else:
        cursor.execute(f"CREATE TEMPORARY TABLE {UNIQUE} AS {_LAST_ROW_PER_NUMBER}")
    if vendor == "postgresql":
        # Temporary tables are never analysed automatically; the planner
        # needs the row count to pick a hash join against contacts.
        cursor.execute(f"ANALYZE {UNIQUE}")


def _merge_contacts(cursor, vendor, now) -> tuple[int, int]:
    """Upsert the staged numbers into contacts; (created, updated)."""
    c = Contact._meta.db_table
    postgres = vendor == "postgresql"
    if not postgres:
        cursor.execute(f"SELECT COUNT(*) FROM {UNIQUE} u JOIN {c} ON {c}.phone = u.phone")
        existing = cursor.fetchone()[0]
    upsert = _upsert_sql(vendor)
    if postgres:
        # A row the upsert inserted has no deleting transaction (xmax 0);
        # an updated one has: both counts come back with the statement.
        cursor.execute(
            f"WITH written AS ({upsert} RETURNING (xmax = 0) AS created) "
            "SELECT COUNT(*) FILTER (WHERE created), COUNT(*) FILTER (WHERE NOT created) "
            "FROM written",
            [now, now],
        )
        created, updated = cursor.fetchone()
        return created, updated
    cursor.execute(upsert, [now, now])
    written = cursor.rowcount
    cursor.execute(f"SELECT COUNT(*) FROM {UNIQUE}")
    distinct = cursor.fetchone()[0]
    created = distinct - existing
    return created, max(written - created, 0)


def _upsert_sql(vendor, source: str = UNIQUE) -> str:
    """Contacts from deduplicated staged rows in ``source`` (two parameters:
    the created and updated times)."""
    c = Contact._meta.db_table
    if vendor == "postgresql":
        merged = f"{c}.attributes || excluded.attributes"
        attrs_changed = f"NOT ({c}.attributes @> excluded.attributes)"
        attrs_in = "attributes"
    else:
        merged = f"json_patch({c}.attributes, excluded.attributes)"
        attrs_changed = f"json_patch({c}.attributes, excluded.attributes) <> json({c}.attributes)"
        attrs_in = "json(attributes)"
    # Non-empty values win, attributes merge key by key, and a row that
    # changes nothing is not rewritten (nor counted as updated).
    return f"""
        INSERT INTO {c} (phone, first_name, last_name, attributes, country, time_zone,
                         created_at, updated_at)
        SELECT phone, first_name, last_name, {attrs_in}, country, time_zone, %s, %s
        FROM {source} WHERE true
        ON CONFLICT (phone) DO UPDATE SET
            first_name = CASE WHEN excluded.first_name <> '' THEN excluded.first_name
                              ELSE {c}.first_name END,
            last_name = CASE WHEN excluded.last_name <> '' THEN excluded.last_name
                             ELSE {c}.last_name END,
            attributes = {merged},
            updated_at = excluded.updated_at
        WHERE (excluded.first_name <> '' AND excluded.first_name <> {c}.first_name)
           OR (excluded.last_name <> '' AND excluded.last_name <> {c}.last_name)
           OR {attrs_changed}
        """


def _merge_memberships(cursor, contact_list: ContactList, now) -> int:
    c, m = Contact._meta.db_table, ListMembership._meta.db_table
    cursor.execute(
        f"""
        INSERT INTO {m} (contact_list_id, contact_id, added_at)
        SELECT %s, {c}.id, %s FROM {UNIQUE} u JOIN {c} ON {c}.phone = u.phone WHERE true
        ON CONFLICT (contact_list_id, contact_id) DO NOTHING
        """,
        [contact_list.pk, now],
    )
    return cursor.rowcount


def _merge_suppressions(cursor, user_id, note, now) -> int:
    s = Suppression._meta.db_table
    cursor.execute(
        f"""
        INSERT INTO {s} (phone, reason, note, created_by_id, created_at)
        SELECT phone, %s, %s, %s, %s FROM {UNIQUE} WHERE true
        ON CONFLICT (phone) DO NOTHING
        """,
        [Suppression.Reason.IMPORTED, note[:255], user_id, now],
    )
    return cursor.rowcount


# ------------------------------------------------- merging while reading

_DONE, _ABORT = object(), object()


class _Aborted(Exception):
    pass


class _Merger(threading.Thread):
    """Merges a large file a chunk at a time while the rest is still being
    read, so PostgreSQL works alongside the normalising processes instead of
    after them. It has its own connection and holds one transaction from
    the first chunk to the last: nothing is visible until the whole file is
    in, and a failure anywhere rolls every chunk back, as with the merge at
    the end. (The reading side's connection stays free for progress.)

    Chunks are applied in file order, so a number repeated in a later chunk
    updates the contact an earlier chunk wrote, by the same rules as any
    update: its non-empty values win and its attributes merge in."""

    def __init__(self, *, contact_list, suppress, user_id, note, chunk_rows):
        super().__init__(name="import-merge", daemon=True)
        self.contact_list_id = getattr(contact_list, "pk", None)
        self.suppress = suppress
        self.user_id = user_id
        self.note = note
        self.chunk_rows = chunk_rows
        self.queue: queue.Queue = queue.Queue(maxsize=8)
        self.error: BaseException | None = None
        self.result: tuple[int, int, int] = (0, 0, 0)
        self.vendor = connection.vendor
        self.chunks = 0
        self.created = 0

    # -- the reading side

    # Its own thread and connection: the normalising processes are forked
    # before it starts (see _read_and_stage).
    threaded = True

    def create(self):
        self.start()

    def write(self, staged, count: int = 0):
        while True:
            self._raise()
            try:
                self.queue.put((staged, count), timeout=0.5)
                return
            except queue.Full:
                continue

    def finish(self) -> tuple[int, int, int]:
        """(created, updated, added) once every chunk is merged and committed."""
        self.write(_DONE)
        self.join()
        self._raise()
        return self.result

    def abort(self):
        if not self.is_alive():
            return
        while True:
            try:
                self.queue.put_nowait((_ABORT, 0))
                break
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self.queue.get_nowait()
        self.join()

    def _raise(self):
        if self.error is not None:
            raise self.error

    # -- the merging side

    def run(self):
        try:
            self._merge_all()
        except _Aborted:
            pass
        except BaseException as exc:  # handed to the reading side
            self.error = exc
        finally:
            connection.close()

    def _merge_all(self):
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        stage = _Stage()
        added = staged = 0
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = %s", [settings.CONTACT_IMPORT_WORK_MEM])
            stage.create()
            cursor.execute(
                f"CREATE TEMPORARY TABLE {WRITTEN} "
                "(id bigint, phone varchar(16), created boolean, existed boolean)"
            )
            cursor.execute(f"CREATE TEMPORARY TABLE {UPDATED} (id bigint PRIMARY KEY)")
            while True:
                block, count = self.queue.get()
                if block is _ABORT:
                    raise _Aborted
                if block is not _DONE:
                    stage.write(block)
                    staged += count
                if staged and (block is _DONE or staged >= self.chunk_rows):
                    added += self._merge_chunk(cursor, now)
                    staged = 0
                if block is _DONE:
                    break
            updated = 0
            if not self.suppress:
                cursor.execute(f"SELECT COUNT(*) FROM {UPDATED}")
                updated = cursor.fetchone()[0]
        self.result = (self.created, updated, added)

    def _merge_chunk(self, cursor, now) -> int:
        # Tables are made once and emptied per chunk: each new table would
        # hold a lock until the commit, and a long file has many chunks.
        if self.suppress:
            _dedupe(cursor, self.vendor, again=self.chunks > 0)
            added = _merge_suppressions(cursor, self.user_id, self.note, now)
        else:
            added, created = _merge_chunk_contacts(cursor, self.contact_list_id, now)
            self.created += created
        self.chunks += 1
        cursor.execute(f"TRUNCATE {STAGE}")
        return added


def _merge_chunk_contacts(cursor, contact_list_id: int, now) -> tuple[int, int]:
    """Upsert one chunk's contacts and add them to the list; returns how
    many memberships are new and how many contacts were created. The ids of
    the contacts the upsert wrote come back from it; only numbers it left as
    they were are looked up. Contacts that were there before the import and
    were changed are kept in UPDATED, so one changed in two chunks counts
    once."""
    c, m = Contact._meta.db_table, ListMembership._meta.db_table
    # The last row for a number wins, picked as the upsert reads the chunk
    # (no table of deduplicated rows to write first).
    last_rows = (
        f"(SELECT DISTINCT ON (phone) * FROM {STAGE} ORDER BY phone, row_no DESC) AS last_rows"
    )
    cursor.execute(f"TRUNCATE {WRITTEN}")
    cursor.execute(
        f"WITH w AS ({_upsert_sql('postgresql', last_rows)} RETURNING {c}.id, {c}.phone, "
        # A row the upsert inserted has no deleting transaction (xmax 0),
        # even one a later chunk of this transaction updates again.
        f"{c}.xmax = 0 AS created, {c}.created_at <> %s AS existed) "
        f"INSERT INTO {WRITTEN} SELECT id, phone, created, existed FROM w",
        [now, now, now],
    )
    cursor.execute(f"ANALYZE {WRITTEN}")
    cursor.execute(f"SELECT COUNT(*) FILTER (WHERE created) FROM {WRITTEN}")
    created = cursor.fetchone()[0]
    cursor.execute(
        f"INSERT INTO {UPDATED} SELECT id FROM {WRITTEN} WHERE existed ON CONFLICT DO NOTHING"
    )
    cursor.execute(
        f"INSERT INTO {m} (contact_list_id, contact_id, added_at) "
        f"SELECT %s, id, %s FROM {WRITTEN} "
        "ON CONFLICT (contact_list_id, contact_id) DO NOTHING",
        [contact_list_id, now],
    )
    added = cursor.rowcount
    cursor.execute(
        f"INSERT INTO {m} (contact_list_id, contact_id, added_at) "
        f"SELECT %s, (SELECT {c}.id FROM {c} WHERE {c}.phone = u.phone), %s FROM {STAGE} u "
        f"WHERE NOT EXISTS (SELECT 1 FROM {WRITTEN} w WHERE w.phone = u.phone) "
        "ON CONFLICT (contact_list_id, contact_id) DO NOTHING",
        [contact_list_id, now],
    )
    return added + cursor.rowcount, created


def _overlaps(vendor: str, path: Path) -> bool:
    return vendor == "postgresql" and path.stat().st_size > OVERLAP_MIN_BYTES


# ------------------------------------------------------------------- import


def resolve_mapping(mapping: dict, columns: list[str]) -> dict[int, str]:
    """Mapping keys may be column positions or header names."""
    by_name = {name.strip().lower(): i for i, name in enumerate(columns)}
    resolved: dict[int, str] = {}
    for key, target in mapping.items():
        if not target:
            continue
        if isinstance(key, int) or str(key).isdigit():
            index = int(key)
        elif str(key).strip().lower() in by_name:
            index = by_name[str(key).strip().lower()]
        else:
            raise ImportFileError(f"The file has no column called “{key}”.")
        resolved[index] = target
    phones = [i for i, t in resolved.items() if t == PHONE]
    if len(phones) != 1:
        raise ImportFileError("Choose exactly one column with the phone numbers.")
    return resolved


def _layout(resolved: dict[int, str], width: int, default_country: str, copy_text: bool) -> Layout:
    def one(target):
        found = [i for i, t in resolved.items() if t == target]
        return found[0] if found else None

    attributes = tuple(
        (i, t[len(ATTRIBUTE) :]) for i, t in sorted(resolved.items()) if t.startswith(ATTRIBUTE)
    )
    return Layout(
        phone=one(PHONE),
        first_name=one(FIRST_NAME),
        last_name=one(LAST_NAME),
        attributes=attributes,
        width=max(width, max(resolved) + 1),
        default_country=(default_country or "").upper(),
        copy_text=copy_text,
    )


ProgressCallback = Callable[[ImportSummary, int], None]


def run_import(
    path: str | Path,
    *,
    contact_list: ContactList | None = None,
    mapping: dict,
    default_country: str = "",
    has_header: bool | None = None,
    inspection: Inspection | None = None,
    suppress: bool = False,
    user=None,
    error_report: str | Path | None = None,
    progress: ProgressCallback | None = None,
    processes: int | None = None,
) -> ImportSummary:
    """Import a CSV or XLSX file into ``contact_list`` (or, with
    ``suppress=True``, into the suppressions) and return what happened.

    ``mapping`` maps columns (position or header name) to "phone",
    "first_name", "last_name" or "attr:<key>". Invalid rows are written to
    ``error_report`` (default: beside the file) with the reason. Raises
    ImportFileError when the file cannot be imported; nothing is merged then.
    """
    if contact_list is None and not suppress:
        raise ValueError("An import needs a list, or suppress=True.")
    path = Path(path)
    started = time.monotonic()
    inspection = inspection or inspect(path)
    if has_header is None:
        has_header = inspection.has_header
    resolved = resolve_mapping(mapping, inspection.columns)
    report_path = Path(error_report) if error_report else path.with_name(f"{path.name}.errors.csv")
    stage = _Stage()
    layout = _layout(resolved, len(inspection.columns), default_country, stage.copy_text)
    procs = processes if processes is not None else import_processes()
    # UTF-8 judged on the first part of the file can still meet a byte that
    # is not UTF-8 further on: read it again as the Windows code page then.
    encodings = [inspection.encoding]
    if inspection.encoding == "utf-8":
        encodings.append("cp1252")
    if inspection.encoding in ("utf-8", "cp1252"):
        encodings.append("latin-1")
    overlap = _overlaps(stage.vendor, path)
    for attempt, encoding in enumerate(encodings):
        sink = stage
        if overlap:
            sink = _Merger(
                contact_list=contact_list,
                suppress=suppress,
                user_id=getattr(user, "pk", None),
                note=f"Imported from {path.name}",
                chunk_rows=MERGE_CHUNK_ROWS,
            )
        try:
            summary = _read_and_stage(
                path, inspection, encoding, has_header, layout, sink, report_path, progress, procs
            )
            if overlap:
                summary.created, summary.updated, summary.added = sink.finish()
            break
        except UnicodeDecodeError:
            sink.abort()
            if attempt == len(encodings) - 1:
                raise ImportFileError(
                    "The file's text encoding could not be recognised; save it as UTF-8 CSV."
                ) from None
        except BaseException:
            sink.abort()
            raise
    if overlap:
        summary.duplicates = summary.rows_valid - summary.added
        summary.seconds = time.monotonic() - started
        return summary
    try:
        # Raw SQL below: stored as the ORM would store it (SQLite keeps text).
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with transaction.atomic(), connection.cursor() as cursor:
            if stage.vendor == "postgresql":
                # Sorting and hashing a million staged rows fits in memory
                # with this; the default spills them to disk in batches.
                cursor.execute("SET LOCAL work_mem = %s", [settings.CONTACT_IMPORT_WORK_MEM])
            _dedupe(cursor, stage.vendor)
            if suppress:
                summary.added = _merge_suppressions(
                    cursor, getattr(user, "pk", None), f"Imported from {path.name}", now
                )
            else:
                summary.created, summary.updated = _merge_contacts(cursor, stage.vendor, now)
                summary.added = _merge_memberships(cursor, contact_list, now)
            summary.duplicates = summary.rows_valid - summary.added
    finally:
        stage.drop()
    summary.seconds = time.monotonic() - started
    return summary


def _read_and_stage(
    path, inspection, encoding, has_header, layout, stage, report_path, progress, processes
) -> ImportSummary:
    summary = ImportSummary(error_report=str(report_path))
    if inspection.file_format == "xlsx":
        rows = _xlsx_rows(path)
        total = xlsx_row_count(path)
    else:
        rows = _csv_rows(path, encoding, inspection.delimiter)
        total = path.stat().st_size
    workers = _Normalisers(layout, processes)
    try:
        if stage.threaded:
            # Fork the normalising processes before the merging thread runs:
            # a child forked beside a running thread can inherit a lock that
            # thread holds.
            workers.start()
        stage.create()
    except BaseException:
        workers.close()
        raise
    last_report = time.monotonic()
    position = 0
    with report_path.open("w", encoding="utf-8-sig", newline="") as report_file:
        report = csv.writer(report_file)
        report.writerow(["row", *[safe_cell(c) for c in inspection.columns], "reason"])

        def collect(results):
            for staged, count, errors in results:
                stage.write(staged, count)
                summary.rows_valid += count
                summary.rows_invalid += len(errors)
                for row_no, cells, reason in errors:
                    report.writerow([row_no, *[safe_cell(c) for c in cells], reason])

        try:
            batch = []
            for row_no, cells, pos in rows:
                if pos >= 0:
                    position = pos
                if has_header and row_no == 1:
                    continue
                batch.append((row_no, cells))
                if len(batch) >= BATCH_ROWS:
                    summary.rows_read += len(batch)
                    workers.submit(batch)
                    batch = []
                    collect(workers.ready())
                    if progress and time.monotonic() - last_report >= 0.5:
                        progress(summary, _fraction(position, total))
                        last_report = time.monotonic()
            if batch:
                summary.rows_read += len(batch)
                workers.submit(batch)
            collect(workers.ready(drain=True))
        finally:
            workers.close()
    if progress:
        progress(summary, 1.0)
    return summary


def _fraction(position: int, total: int) -> float:
    return min(position / total, 1.0) if total else 0.0


# ------------------------------------------------------------------ exports

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    """A cell a spreadsheet will show as text, never run as a formula. Plain
    numbers (+4915112345678, -3.5) cannot be formulas and stay as they are."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not _is_plain_number(text):
        return "'" + text
    return text


def _is_plain_number(text: str) -> bool:
    body = text[1:] if text[:1] in "+-" else text
    return bool(body) and body.replace(".", "", 1).isdigit()
