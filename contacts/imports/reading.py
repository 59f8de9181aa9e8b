"""A first look at an uploaded contact file (its format, encoding,
delimiter, header and first rows; which column is likely what), then its
rows, CSV or XLSX. The file is read row by row (memory stays flat whatever
its size), within limits on rows, columns, cells and characters per cell
(``limits()``, from the settings): a file beyond them is refused with a
message naming the limit. Cells written back out to a spreadsheet are made
safe here too.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path

from django.conf import settings

from . import workbook
from .workbook import Limits

# A physical line longer than this is not a contact: the file is something
# else (a minified dump, a binary, one enormous cell) and reading on would
# only use memory.
MAX_LINE_CHARS = 1_000_000
# What a first look keeps to show on the mapping page: a few rows, each cell
# cut short, and column names cut short.
SAMPLE_ROWS = 5
SAMPLE_CHARS = 60
COLUMN_NAME_CHARS = 100
SNIFF_BYTES = 256 * 1024

csv.field_size_limit(MAX_LINE_CHARS)

PHONE, FIRST_NAME, LAST_NAME, ATTRIBUTE = "phone", "first_name", "last_name", "attr:"
CONSENT = "consent"
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


CONSENT_HEADERS = {
    "consent", "marketing consent", "sms consent", "opt in", "optin", "opted in",
    "gdpr consent", "einwilligung", "consentement", "consentimiento",
}  # fmt: skip


class ImportFileError(Exception):
    """The file as a whole cannot be imported; the message says why, for
    the person who uploaded it."""


def limits() -> Limits:
    """What one import reads at most (settings CONTACT_IMPORT_MAX_*)."""
    return Limits(
        rows=settings.CONTACT_IMPORT_MAX_ROWS,
        columns=settings.CONTACT_IMPORT_MAX_COLUMNS,
        cells_per_row=settings.CONTACT_IMPORT_MAX_CELLS_PER_ROW,
        cell_chars=settings.CONTACT_IMPORT_MAX_CELL_CHARS,
        uncompressed=settings.CONTACT_IMPORT_XLSX_MAX_UNPACKED,
        ratio=settings.CONTACT_IMPORT_XLSX_MAX_RATIO,
    )


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
        rows = list(_xlsx_rows(path, first=SAMPLE_ROWS + 1))
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
        result.columns = [
            c.strip()[:COLUMN_NAME_CHARS] or f"Column {i + 1}" for i, c in enumerate(rows[0])
        ]
        samples = rows[1:]
    else:
        result.columns = [f"Column {i + 1}" for i in range(width)]
        samples = rows
    # Kept with the import and shown on its page: short, whatever the file.
    result.sample_rows = [[_short(c) for c in row] for row in samples[:SAMPLE_ROWS]]
    return result


def _short(cell: str) -> str:
    return cell if len(cell) <= SAMPLE_CHARS else cell[: SAMPLE_CHARS - 1] + "…"


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
                              (LAST_NAME, LAST_HEADERS), (CONSENT, CONSENT_HEADERS)):  # fmt: skip
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
    bounds = limits()
    rows = 0
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        reader = csv.reader(_lines(text), delimiter=delimiter)
        row_no = 0
        try:
            for cells in reader:
                row_no += 1
                if not cells or not any(cells):
                    continue
                rows += 1
                if rows > bounds.rows:
                    raise ImportFileError(_too_many_rows(bounds))
                if len(cells) > bounds.columns:
                    cells = _within_columns(row_no, cells, bounds)
                if max(map(len, cells)) > bounds.cell_chars:
                    column = next(i for i, c in enumerate(cells) if len(c) > bounds.cell_chars)
                    raise ImportFileError(_too_long(row_no, column + 1, bounds))
                yield row_no, cells, raw.tell() if row_no % 1000 == 0 else -1
        except csv.Error as exc:
            raise ImportFileError(f"Row {row_no + 1:,} cannot be read as CSV: {exc}.") from exc


def _within_columns(row_no: int, cells: list[str], bounds: Limits) -> list[str]:
    """A row's cells up to the last column read; a value beyond it refuses
    the file (empty cells beyond it are dropped)."""
    if len(cells) > bounds.cells_per_row:
        raise ImportFileError(
            f"Row {row_no:,} has {len(cells):,} cells; at most {bounds.cells_per_row:,} are "
            "read: this is not a contact list, or not separated the way it seems."
        )
    last = max(i for i, c in enumerate(cells) if c) + 1
    if last > bounds.columns:
        raise ImportFileError(
            f"Row {row_no:,} has a value in column {last:,}; at most {bounds.columns:,} columns "
            "are read. Remove the columns you do not need, or check how the file is separated."
        )
    return cells[: bounds.columns]


def _too_many_rows(bounds: Limits) -> str:
    return (
        f"The file has more than {bounds.rows:,} rows (the most one import reads); split it "
        "into several files."
    )


def _too_long(row_no: int, column: int, bounds: Limits) -> str:
    return (
        f"Row {row_no:,}, column {column:,} holds more than {bounds.cell_chars:,} characters "
        "(the most a cell may hold)."
    )


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


def _xlsx_rows(path: Path, *, first: int | None = None) -> Iterator[tuple[int, list[str], int]]:
    """(row number, cells, bytes of the sheet read so far), streamed from
    the first sheet (see ``workbook``); ``first``: only that many rows."""
    try:
        for row_no, values, read in workbook.rows(path, limits(), first=first):
            cells = [_cell_text(v) for v in values]
            while cells and cells[-1] == "":
                cells.pop()
            if cells:
                yield row_no, cells, read
    except workbook.WorkbookError as exc:
        raise ImportFileError(str(exc)) from exc


def xlsx_sheet_bytes(path: Path) -> int:
    """The first sheet's size once unpacked: an import's progress is how far
    into it the reading is."""
    try:
        return workbook.sheet_size(path)
    except workbook.WorkbookError:
        return 0


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
