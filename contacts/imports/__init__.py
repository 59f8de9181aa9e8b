"""Contact files in, contacts out: a first look at an uploaded file, then the
streaming import itself, in three parts:

- ``reading``: what the file is (``inspect``, ``guess_mapping``), and its rows,
  CSV or XLSX, read one at a time;
- ``normalise``: the numbers normalised and the rows checked, in a pool of
  processes;
- ``merge``: the staging table, and the merge of the staged rows into
  contacts and list memberships (or suppressions).

Here they are put together: valid rows are staged, invalid ones go to an
error report beside the file, and one transaction merges what was staged.

``run_import(path, contact_list=..., mapping=..., default_country=...)``
is the whole import as one call.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ..models import ContactList
from .merge import (
    UNIQUE,
    _dedupe,
    _merge_consent,
    _merge_contacts,
    _merge_memberships,
    _merge_suppressions,
    _Merger,
    _Stage,
)
from .normalise import Layout, _Normalisers, import_processes, process_batch
from .reading import (
    ATTRIBUTE,
    CONSENT,
    FIRST_NAME,
    LAST_NAME,
    MAX_LINE_CHARS,
    PHONE,
    ImportFileError,
    Inspection,
    _csv_rows,
    _xlsx_rows,
    attribute_key,
    guess_mapping,
    inspect,
    safe_cell,
    xlsx_sheet_bytes,
)

__all__ = [
    "ATTRIBUTE",
    "CONSENT",
    "BATCH_ROWS",
    "FIRST_NAME",
    "LAST_NAME",
    "MAX_LINE_CHARS",
    "PHONE",
    "ImportFileError",
    "ImportSummary",
    "Inspection",
    "ProgressCallback",
    "RowPreview",
    "attribute_key",
    "guess_mapping",
    "inspect",
    "preview_rows",
    "resolve_mapping",
    "run_import",
    "safe_cell",
]

# Rows handed to a normalising process at a time.
BATCH_ROWS = 10_000

# On PostgreSQL a file larger than this is merged a chunk at a time while it
# is still being read (see _Merger); a smaller one is merged at the end.
OVERLAP_MIN_BYTES = 8 * 1024 * 1024
MERGE_CHUNK_ROWS = 100_000


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
        consent=one(CONSENT),
        attributes=attributes,
        width=max(width, max(resolved) + 1),
        default_country=(default_country or "").upper(),
        copy_text=copy_text,
    )


ProgressCallback = Callable[[ImportSummary, int], None]


@dataclass
class RowPreview:
    """How one of a file's first rows will be imported."""

    phone: str  # the phone cell as written
    e164: str  # "" when the row will be rejected
    country: str
    name: str
    reason: str  # why it will be rejected ("" when it will not)
    # The number comes again further down: that later row is what is kept.
    repeated_below: bool = False


def preview_rows(
    rows: list[list[str]], columns: list[str], mapping: dict, default_country: str
) -> list[RowPreview]:
    """``rows`` (a file's first rows, as kept with its import) read as the
    import will read them, by the same code the worker runs: each number in
    E.164 with its country, or the reason the row is rejected. Raises
    ImportFileError when the mapping has no single phone column."""
    resolved = resolve_mapping(mapping, columns)
    layout = _layout(resolved, len(columns), default_country, copy_text=False)
    numbered = list(enumerate(rows, start=1))
    staged, _, errors = process_batch(layout, numbered)
    valid = {row[0]: row for row in staged}
    rejected = {row_no: reason for row_no, _, reason in errors}
    found = []
    for row_no, cells in numbered:
        phone = cells[layout.phone] if layout.phone < len(cells) else ""
        if row_no in valid:
            _, e164, country, _, first, last, *_ = valid[row_no]
            found.append(RowPreview(phone, e164, country, f"{first} {last}".strip(), ""))
        else:
            found.append(RowPreview(phone, "", "", "", rejected.get(row_no, "")))
    # The last row for a number wins, as the merge picks it.
    last = {row.e164: index for index, row in enumerate(found) if row.e164}
    for index, row in enumerate(found):
        row.repeated_below = bool(row.e164) and last[row.e164] != index
    return found


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
    source_name: str = "",
) -> ImportSummary:
    """Import a CSV or XLSX file into ``contact_list`` (or, with
    ``suppress=True``, into the suppressions) and return what happened.

    ``mapping`` maps columns (position or header name) to "phone",
    "first_name", "last_name", "consent" (yes, no or the date it was given:
    each stated consent becomes a history row naming ``source_name`` and the
    row) or "attr:<key>". Invalid rows are written to
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
                consent_from=(source_name or path.name) if layout.consent is not None else "",
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
                if layout.consent is not None:
                    _merge_consent(
                        cursor, UNIQUE, source_name or path.name, getattr(user, "pk", None), now
                    )
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
        total = xlsx_sheet_bytes(path)
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


def _overlaps(vendor: str, path: Path) -> bool:
    return vendor == "postgresql" and path.stat().st_size > OVERLAP_MIN_BYTES
