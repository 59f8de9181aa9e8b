"""Numbers are normalised by a pool of processes, one per core, because
phonenumbers is pure Python and is what limits the rate. Each batch of rows
comes back as rows ready for the staging table, and the rows that are not
valid with the reason why.
"""

from __future__ import annotations

import collections
import json
import logging
import multiprocessing
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings

from smsportal.phones import InvalidNumber, normalise

log = logging.getLogger(__name__)

# Longest cell we store (names are capped by their columns).
MAX_CELL_CHARS = 1_000
NAME_MAX_CHARS = 100


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
    consent: int | None = None


_SEEN: dict[tuple[str, str], object] = {}
_SEEN_MAX = 200_000


def _normalise_cached(raw: str, region: str):
    """Repeated numbers (a file's duplicates) are parsed once per process.
    Keyed by the country too: a national number means another number (or
    none) under another country, and a worker serves many imports."""
    key = (raw, region)
    result = _SEEN.get(key)
    if result is None:
        try:
            result = normalise(raw, region)
        except InvalidNumber as exc:
            result = str(exc)
        if len(_SEEN) >= _SEEN_MAX:
            _SEEN.clear()
        _SEEN[key] = result
    return result


_YES = {"yes", "y", "true", "1", "x", "ja", "j", "oui", "si", "sí", "opted in", "opt in", "optin"}
_NO = {"no", "n", "false", "0", "nein", "non", "opted out", "opt out", "optout"}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([ T].*)?|\d{1,2}[./]\d{1,2}[./]\d{2,4}")


def consent_value(cell: str) -> str | None:
    """What a consent cell says: "opted_in" (yes, or the date it was given),
    "opted_out" (no), "" (empty: unchanged), or None (not readable)."""
    text = cell.strip().lower()
    if not text:
        return ""
    if text in _YES or _DATE.fullmatch(text):
        return "opted_in"
    if text in _NO:
        return "opted_out"
    return None


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
        consent = ""
        if layout.consent is not None:
            cell = cells[layout.consent] if layout.consent < len(cells) else ""
            consent = consent_value(cell)
            if consent is None:
                errors.append((row_no, cells, "consent: give yes, no or the date it was given"))
                continue
        attrs = _to_json(attributes) if attributes else "{}"
        if layout.copy_text:
            staged_text.append(
                f"{row_no}\t{number.e164}\t{number.country}\t{number.time_zone}\t"
                f"{_copy_escape(first)}\t{_copy_escape(last)}\t{_copy_escape(attrs)}\t{consent}\n"
            )
        else:
            staged_rows.append(
                (row_no, number.e164, number.country, number.time_zone, first, last, attrs, consent)
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
