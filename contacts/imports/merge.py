"""Valid rows go to a staging table (PostgreSQL: COPY; SQLite: batched
inserts). One transaction merges the staged rows, set-based: contacts by
number, then list memberships; a large file on PostgreSQL is merged in
chunks while it is still being read, inside that one transaction. Until its
commit nothing is visible, so a failed import has imported nothing.
"""

# SQL here names tables from model metadata and module constants; every
# value goes in as a parameter.
# ruff: noqa: S608

from __future__ import annotations

import contextlib
import queue
import threading

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ..models import ConsentEvent, Contact, ContactList, ListMembership, Suppression

# ------------------------------------------------------------------ staging

STAGE = "contacts_import_stage"
UNIQUE = "contacts_import_unique"
WRITTEN = "contacts_import_written"
UPDATED = "contacts_import_updated"


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
                f"last_name varchar(100), attributes {json_type}, consent varchar(10))"
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
                columns = (
                    "row_no, phone, country, time_zone, first_name, last_name, attributes, consent"
                )
                with cursor.cursor.copy(f"COPY {STAGE} ({columns}) FROM STDIN") as copy:
                    copy.write(staged)
            else:
                cursor.executemany(
                    f"INSERT INTO {STAGE} VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", staged
                )


# --------------------------------------------------------------------- merge

# The last row for a number wins (a later line is a later correction).
_LAST_ROW_PER_NUMBER = (
    "SELECT row_no, phone, country, time_zone, first_name, last_name, attributes, consent FROM "
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
    # Non-empty values win, attributes merge key by key, a consent the file
    # states replaces the contact's (an empty cell leaves it), and a row that
    # changes nothing is not rewritten (nor counted as updated).
    return f"""
        INSERT INTO {c} (phone, first_name, last_name, attributes, country, time_zone,
                         consent, created_at, updated_at)
        SELECT phone, first_name, last_name, {attrs_in}, country, time_zone,
               CASE WHEN consent <> '' THEN consent ELSE 'unknown' END, %s, %s
        FROM {source} WHERE true
        ON CONFLICT (phone) DO UPDATE SET
            first_name = CASE WHEN excluded.first_name <> '' THEN excluded.first_name
                              ELSE {c}.first_name END,
            last_name = CASE WHEN excluded.last_name <> '' THEN excluded.last_name
                             ELSE {c}.last_name END,
            attributes = {merged},
            consent = CASE WHEN excluded.consent <> 'unknown' THEN excluded.consent
                           ELSE {c}.consent END,
            updated_at = excluded.updated_at
        WHERE (excluded.first_name <> '' AND excluded.first_name <> {c}.first_name)
           OR (excluded.last_name <> '' AND excluded.last_name <> {c}.last_name)
           OR (excluded.consent <> 'unknown' AND excluded.consent <> {c}.consent)
           OR {attrs_changed}
        """


def _merge_consent(cursor, source: str, file_name: str, user_id, now) -> int:
    """A history row for each contact whose row states a consent (after the
    contacts are merged): the file and row it came from, and who imported
    it. ``source``: the deduplicated rows (a table, or a subquery)."""
    c, e = Contact._meta.db_table, ConsentEvent._meta.db_table
    concat = "(%s || CAST(u.row_no AS varchar(20)))"
    cursor.execute(
        f"""
        INSERT INTO {e} (contact_id, state, source, detail, created_by_id, created_at)
        SELECT {c}.id, u.consent, %s, {concat}, %s, %s
        FROM {source} u JOIN {c} ON {c}.phone = u.phone WHERE u.consent <> ''
        """,
        [ConsentEvent.Source.IMPORT, f"{file_name[:200]}, row ", user_id, now],
    )
    return cursor.rowcount


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

    def __init__(
        self, *, contact_list, suppress, user_id, note, chunk_rows, consent_from: str = ""
    ):
        super().__init__(name="import-merge", daemon=True)
        # The file's name for consent history rows; empty: no consent column.
        self.consent_from = consent_from
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
            if self.consent_from:
                last_rows = (
                    f"(SELECT DISTINCT ON (phone) * FROM {STAGE} ORDER BY phone, row_no DESC)"
                )
                _merge_consent(cursor, last_rows, self.consent_from, self.user_id, now)
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
