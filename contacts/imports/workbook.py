"""Excel workbooks (.xlsx) read as a stream, within limits checked first.

An .xlsx file is a zip archive of XML parts. Before anything is
decompressed, the archive's directory is checked: how many parts it has,
how large they are once decompressed, and how far each is compressed (a
sheet of five million cells packs into 150 KB; no spreadsheet a person
saved compresses like that). The first sheet is then read with expat, one
chunk at a time, and each row is handed on as soon as it ends: memory stays
flat however large the sheet, and a row, a cell or the sheet going beyond
the limits stops the reading at once with a message that names the limit.

Values are read as a spreadsheet shows them (the value a formula last
computed, numbers as numbers, dates as dates), like openpyxl's data-only
mode, whose date rules are used.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from xml.parsers import expat

CHUNK = 64 * 1024
# The parts an .xlsx holds: a few dozen even with many sheets.
MAX_PARTS = 10_000
MAX_DIRECTORY_BYTES = 4 * 1024 * 1024
# Parts that describe the workbook (not its cells) are small.
MAX_META_BYTES = 32 * 1024 * 1024
# Below this size a part's compression ratio says nothing.
RATIO_FROM_BYTES = 1024 * 1024
# Excel's own limits.
EXCEL_COLUMNS = 16_384
MAX_COLUMN_LETTERS = 3

_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


class WorkbookError(Exception):
    """The workbook cannot be read; the message says why, for the person who
    uploaded it."""


@dataclass(frozen=True)
class Limits:
    rows: int  # rows with a value, in the sheet
    columns: int  # the last column a value may be in
    cells_per_row: int  # cells written in a row, empty or not
    cell_chars: int  # characters in one cell
    uncompressed: int  # bytes of the archive's parts once decompressed
    ratio: int  # how far one part may be compressed


UNREADABLE = (
    "This file is not a readable Excel workbook (.xlsx); save it again from your "
    "spreadsheet program, or as CSV."
)


# ------------------------------------------------------------------ archive


def check_archive(path: Path, limits: Limits) -> None:
    """Refuse an archive whose directory is too large, or whose parts would
    decompress beyond the limits, before opening any of them."""
    directory_size, parts = _directory(path)
    if parts > MAX_PARTS or directory_size > MAX_DIRECTORY_BYTES:
        raise WorkbookError(
            f"This workbook has {parts:,} parts; a spreadsheet has a few dozen. "
            "Save it again from your spreadsheet program, or as CSV."
        )
    with _translated(), zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    total = sum(info.file_size for info in infos)
    if total > limits.uncompressed:
        raise WorkbookError(
            f"This workbook holds {_mb(total)} once unpacked; at most "
            f"{_mb(limits.uncompressed)} is read. Split it, or save it as CSV."
        )
    for info in infos:
        packed = max(info.compress_size, 1)
        if info.file_size > RATIO_FROM_BYTES and info.file_size > limits.ratio * packed:
            raise WorkbookError(
                f"Part of this workbook unpacks to {info.file_size // packed:,} times its "
                f"size (at most {limits.ratio:,} times is read): it is not an ordinary "
                "spreadsheet. Save it again from your spreadsheet program, or as CSV."
            )


def _directory(path: Path) -> tuple[int, int]:
    """(size of the central directory, number of entries), read from the
    end-of-archive record without reading the directory itself."""
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 65_557))
        tail = handle.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise WorkbookError(UNREADABLE)
    entries, directory_size = struct.unpack("<HI", tail[at + 10 : at + 16])
    if entries == 0xFFFF or directory_size == 0xFFFFFFFF:
        # Zip64: more than 65,535 parts, or a directory over 4 GB.
        return directory_size, MAX_PARTS + 1
    return directory_size, entries


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):,.0f} MB"


# --------------------------------------------------------------------- XML


class _Stop(Exception):
    """Raised from a handler to stop the parser with a reason."""


def _parser(start, end=None, text=None) -> expat.XMLParserType:
    """An expat parser reporting local names (namespaces stripped) that
    refuses document types (nothing in an .xlsx has one)."""
    parser = expat.ParserCreate(namespace_separator=" ")

    def doctype(*args):
        raise WorkbookError(UNREADABLE + " (It declares a document type.)")

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    parser.StartElementHandler = start
    if end:
        parser.EndElementHandler = end
    if text:
        parser.CharacterDataHandler = text
    return parser


def _local(name: str) -> str:
    return name.rpartition(" ")[2]


def _feed(archive: zipfile.ZipFile, name: str, parser, *, limit: int | None = None):
    """Feed a part to the parser chunk by chunk; yields the bytes read so far
    after each chunk."""
    if limit is not None and archive.getinfo(name).file_size > limit:
        raise WorkbookError(UNREADABLE + f" ({name} is too large.)")
    read = 0
    with archive.open(name) as part:
        while chunk := part.read(CHUNK):
            read += len(chunk)
            parser.Parse(chunk, False)
            yield read
        parser.Parse(b"", True)


def _parse_all(archive, name, parser, *, limit=MAX_META_BYTES) -> None:
    for _ in _feed(archive, name, parser, limit=limit):
        pass


def _resolve(base: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    parts: list[str] = []
    for piece in (PurePosixPath(base).parent / target).parts:
        if piece == "..":
            if parts:
                parts.pop()
        elif piece != ".":
            parts.append(piece)
    return "/".join(parts)


# ---------------------------------------------------------------- workbook


@dataclass
class _Book:
    sheet: str  # the first worksheet's part
    shared_strings: str  # "" when the workbook has none
    styles: str
    date1904: bool


def _book(archive: zipfile.ZipFile) -> _Book:
    names = set(archive.namelist())
    workbook = _workbook_part(archive, names)
    sheets: list[str] = []
    date1904 = False

    def start(name, attrs):
        nonlocal date1904
        tag = _local(name)
        if tag == "sheet":
            sheets.append(attrs.get(f"{_RELS} id") or attrs.get("id") or "")
        elif tag == "workbookPr":
            date1904 = attrs.get("date1904") in ("1", "true")

    _parse_all(archive, workbook, _parser(start))
    targets = _relationships(archive, workbook, names)
    worksheets = [
        targets[rid][0]
        for rid in sheets
        if rid in targets and targets[rid][1].endswith("/worksheet") and targets[rid][0] in names
    ]
    if not worksheets:
        raise WorkbookError("This workbook has no worksheet to read.")
    by_type = {kind.rpartition("/")[2]: target for target, kind in targets.values()}
    shared = by_type.get("sharedStrings", "")
    styles = by_type.get("styles", "")
    return _Book(
        sheet=worksheets[0],
        shared_strings=shared if shared in names else "",
        styles=styles if styles in names else "",
        date1904=date1904,
    )


def _workbook_part(archive: zipfile.ZipFile, names: set[str]) -> str:
    """The workbook part, as the package's root relationships name it."""
    found = ""

    def start(name, attrs):
        nonlocal found
        if _local(name) == "Relationship" and attrs.get("Type", "").endswith("/officeDocument"):
            found = found or _resolve("", attrs.get("Target", ""))

    if "_rels/.rels" in names:
        _parse_all(archive, "_rels/.rels", _parser(start))
    found = found or "xl/workbook.xml"
    if found not in names:
        raise WorkbookError(UNREADABLE)
    return found


def _relationships(archive, part: str, names: set[str]) -> dict[str, tuple[str, str]]:
    path = PurePosixPath(part)
    rels = str(path.parent / "_rels" / f"{path.name}.rels")
    targets: dict[str, tuple[str, str]] = {}

    def start(name, attrs):
        if _local(name) == "Relationship":
            targets[attrs.get("Id", "")] = (
                _resolve(part, attrs.get("Target", "")),
                attrs.get("Type", ""),
            )

    if rels in names:
        _parse_all(archive, rels, _parser(start))
    return targets


def _date_styles(archive, styles: str) -> tuple[set[int], set[int]]:
    """Style indexes whose number format shows a date, and those that show
    a duration (openpyxl's rules)."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format

    if not styles:
        return set(), set()
    custom: dict[int, str] = {}
    formats: list[int] = []
    inside = ""

    def start(name, attrs):
        nonlocal inside
        tag = _local(name)
        if tag in ("cellXfs", "numFmts"):
            inside = tag
        elif tag == "numFmt" and inside == "numFmts":
            custom[_int(attrs.get("numFmtId"))] = attrs.get("formatCode", "")
        elif tag == "xf" and inside == "cellXfs":
            formats.append(_int(attrs.get("numFmtId")))

    def end(name):
        nonlocal inside
        if _local(name) == inside:
            inside = ""

    _parse_all(archive, styles, _parser(start, end))
    dates, durations = set(), set()
    for index, format_id in enumerate(formats):
        code = custom.get(format_id) or BUILTIN_FORMATS.get(format_id) or ""
        if code and is_date_format(code):
            dates.add(index)
            if is_timedelta_format(code):
                durations.add(index)
    return dates, durations


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _shared_strings(archive, part: str, limits: Limits, wanted: set[int] | None) -> dict[int, str]:
    """The shared string table (every string, or only the ``wanted``
    indexes, stopping after the last of them). A string longer than a cell
    may be is kept cut short, with a marker: only a cell that uses it is an
    error."""
    strings: dict[int, str] = {}
    if not part:
        return strings
    index = -1
    pieces: list[str] = []
    size = 0
    depth_in_t = 0
    in_phonetic = 0
    last = max(wanted) if wanted else None

    def start(name, attrs):
        nonlocal index, size, depth_in_t, in_phonetic
        tag = _local(name)
        if tag == "si":
            index += 1
            pieces.clear()
            size = 0
        elif tag == "rPh":
            in_phonetic += 1
        elif tag == "t" and not in_phonetic:
            depth_in_t += 1

    def end(name):
        nonlocal depth_in_t, in_phonetic
        tag = _local(name)
        if tag == "si":
            if wanted is None or index in wanted:
                text = "".join(pieces)
                strings[index] = text if size <= limits.cell_chars else _TooLong(text)
            if last is not None and index >= last:
                raise _Stop
        elif tag == "rPh":
            in_phonetic -= 1
        elif tag == "t" and not in_phonetic:
            depth_in_t -= 1

    def text(data):
        nonlocal size
        if depth_in_t and size <= limits.cell_chars:
            pieces.append(data)
            size += len(data)

    with contextlib.suppress(_Stop):
        _parse_all(archive, part, _parser(start, end, text), limit=limits.uncompressed)
    return strings


class _TooLong(str):
    """A shared string longer than a cell may be (kept cut short)."""


# -------------------------------------------------------------------- sheet

# (row number, cells, bytes of the sheet read so far)
Row = tuple[int, list, int]


def sheet_size(path: Path) -> int:
    """Bytes of the first sheet once decompressed (for progress)."""
    with _translated(), zipfile.ZipFile(path) as archive:
        return archive.getinfo(_book(archive).sheet).file_size


def rows(path: Path, limits: Limits, *, first: int | None = None) -> Iterator[Row]:
    """The first sheet's rows with a value: (row number, cell values, bytes
    read). ``first``: only that many rows are wanted (a first look), so
    only the strings they use are read."""
    check_archive(path, limits)
    with _translated(), zipfile.ZipFile(path) as archive:
        book = _book(archive)
        dates, durations = _date_styles(archive, book.styles)
        epoch = dt.datetime(1904, 1, 1) if book.date1904 else dt.datetime(1899, 12, 30)
        convert = _converter(dates, durations, epoch, limits)
        if first is None:
            strings = _shared_strings(archive, book.shared_strings, limits, None)
            for row_no, cells, read in _sheet(archive, book.sheet, limits):
                yield row_no, [convert(cell, strings) for cell in cells], read
            return
        head = []
        for row in _sheet(archive, book.sheet, limits):
            head.append(row)
            if len(head) >= first:
                break
        wanted = {_int(c[2]) for _, cells, _ in head for c in cells if c and c[0] == "s"}
        wanted = {i for i in wanted if i >= 0}
        strings = _shared_strings(archive, book.shared_strings, limits, wanted)
        for row_no, cells, read in head:
            yield row_no, [convert(cell, strings) for cell in cells], read


@contextlib.contextmanager
def _translated():
    """What goes wrong inside an archive, said for the person who uploaded it."""
    try:
        yield
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,
        KeyError,
        EOFError,
        OSError,
        ValueError,
    ) as exc:
        raise WorkbookError("The workbook is damaged and cannot be read to the end.") from exc
    except (NotImplementedError, RuntimeError) as exc:
        # A compression method zipfile does not know, or a password.
        raise WorkbookError(
            "This workbook is encrypted or packed in a way that cannot be read; save it again "
            "without a password, or as CSV."
        ) from exc
    except expat.ExpatError as exc:
        raise WorkbookError(
            f"The workbook is not well-formed ({exc}); save it again from your spreadsheet "
            "program, or as CSV."
        ) from exc


def _sheet(archive, part: str, limits: Limits) -> Iterator[tuple[int, list, int]]:
    """Rows of raw cells: each cell None (empty) or (type, style, text)."""
    done: list[tuple[int, list]] = []
    row_no = 0
    cells: list = []
    written = 0
    column = 0
    cell: list | None = None  # [type, style, pieces, size, column]
    capture = 0  # inside <v>, or <t> of an inline string
    in_inline = 0
    in_phonetic = 0
    rows_seen = 0

    def start(name, attrs):
        nonlocal row_no, cells, written, column, cell, capture, in_inline, in_phonetic
        tag = _local(name)
        if tag == "c":
            written += 1
            if written > limits.cells_per_row:
                raise WorkbookError(
                    f"Row {row_no:,} has more than {limits.cells_per_row:,} cells (the most a "
                    "row may have): this is not a contact list."
                )
            ref = attrs.get("r")
            column = _column(ref, row_no) if ref else column + 1
            cell = [attrs.get("t", "n"), _int(attrs.get("s", "0")), [], 0, column]
        elif tag == "row":
            number = attrs.get("r")
            row_no = _int(number) if number else row_no + 1
            if row_no < 1:
                raise WorkbookError(f"The first sheet has a row numbered {number!r}.")
            cells, written, column = [], 0, 0
        elif cell is not None:
            if tag == "v":
                capture += 1
            elif tag == "is":
                in_inline += 1
            elif tag == "rPh":
                in_phonetic += 1
            elif tag == "t" and in_inline and not in_phonetic:
                capture += 1

    def end(name):
        nonlocal cell, capture, in_inline, in_phonetic, rows_seen
        tag = _local(name)
        if tag == "c" and cell is not None:
            kind, style, pieces, _, at = cell
            cell = None
            if not pieces:
                return
            if at > limits.columns:
                raise WorkbookError(
                    f"Row {row_no:,} has a value in column {at:,}; at most {limits.columns:,} "
                    "columns are read. Remove the columns you do not need, or save the sheet "
                    "again."
                )
            while len(cells) < at:
                cells.append(None)
            cells[at - 1] = (kind, style, "".join(pieces))
        elif tag == "row":
            if any(cells):
                rows_seen += 1
                if rows_seen > limits.rows:
                    raise WorkbookError(
                        f"The sheet has more than {limits.rows:,} rows (the most one import "
                        "reads); split it into several files."
                    )
                done.append((row_no, cells))
        elif cell is not None:
            if tag == "v":
                capture -= 1
            elif tag == "is":
                in_inline -= 1
            elif tag == "rPh":
                in_phonetic -= 1
            elif tag == "t" and in_inline and not in_phonetic:
                capture -= 1

    def text(data):
        if capture and cell is not None:
            cell[3] += len(data)
            if cell[3] > limits.cell_chars:
                raise WorkbookError(
                    f"Row {row_no:,}, column {cell[4]:,} holds more than "
                    f"{limits.cell_chars:,} characters (the most a cell may hold)."
                )
            cell[2].append(data)

    parser = _parser(start, end, text)
    for read in _feed(archive, part, parser):
        for row_no_done, row_cells in done:
            yield row_no_done, row_cells, read
        done.clear()
    for row_no_done, row_cells in done:
        yield row_no_done, row_cells, -1


def _column(ref: str, row_no: int) -> int:
    letters = ref.rstrip("0123456789").upper()
    if not letters or len(letters) > MAX_COLUMN_LETTERS or not letters.isalpha():
        raise WorkbookError(f"Row {row_no:,} has a cell with the reference {ref[:20]!r}.")
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    if number > EXCEL_COLUMNS:
        raise WorkbookError(f"Row {row_no:,} has a cell beyond the last column of a sheet.")
    return number


def _converter(dates: set[int], durations: set[int], epoch: dt.datetime, limits) -> Callable:
    from openpyxl.utils.datetime import from_excel, from_ISO8601

    def convert(cell, strings: dict[int, str]):
        if cell is None:
            return None
        kind, style, value = cell
        if kind == "s":
            text = strings.get(_int(value))
            if text is None:
                raise WorkbookError("The workbook refers to text it does not hold.")
            if isinstance(text, _TooLong):
                raise WorkbookError(
                    f"A cell holds more than {limits.cell_chars:,} characters (the most a cell "
                    "may hold)."
                )
            return text
        if kind in ("inlineStr", "str", "e"):
            return value
        if kind == "b":
            return value.strip() in ("1", "true")
        if kind == "d":
            try:
                return from_ISO8601(value)
            except ValueError:
                return value
        try:
            number = float(value) if any(c in value for c in ".Ee") else int(value)
        except ValueError:
            return value
        if style in dates:
            try:
                return from_excel(number, epoch, timedelta=style in durations)
            except (OverflowError, ValueError):
                return "#VALUE!"
        return number

    return convert
