"""The status path: every change to a message's status goes through here,
whether it comes from a submit response, a webhook, a poll or recovery.

Rows are locked (in id order, so two writers never deadlock), each change is
checked against the forward-only rule, changed rows are written in bulk, the
history is appended as events, and the campaign counters get deltas — all in
one transaction. A report that arrives twice or late changes nothing but is
still kept as an event.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, make_dataclass
from decimal import Decimal
from operator import attrgetter
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.utils import timezone

from providers.screening import keepable_json, storable
from providers.status import FINAL, Status, can_move

from .models import CampaignCounter, Message, MessageEvent

# Statuses for which the provider charges when it gives no price itself.
_CHARGED = {Status.ACCEPTED, Status.DELIVERED, Status.UNDELIVERED, Status.EXPIRED}


@dataclass
class Update:
    message_id: int
    status: str
    kind: str = MessageEvent.Kind.REPORT
    provider_message_id: str = ""
    error_code: str = ""
    error_description: str = ""
    cost: Decimal | None = None
    currency: str = ""
    segments: int | None = None
    sent_at: dt.datetime | None = None
    done_at: dt.datetime | None = None
    payload: Any = None
    payload_json: str | None = None


_FIELDS = [
    "status",
    "provider_message_id",
    "error_code",
    "error_description",
    "actual_cost",
    "currency",
    "segments",
    "submitted_at",
    "sent_at",
    "done_at",
]


# A message row as the status path reads and writes it: a class with a slot
# per column, built with an __init__ that assigns each by name (thousands
# are made a second; a loop of setattr takes five times as long).
_Locked = make_dataclass(
    "_Locked",
    [(name, Any) for name in ("id", "campaign_id", "account_id", "country", "estimated_cost")]
    + [(name, Any) for name in _FIELDS],
    slots=True,
    eq=False,
    namespace={"pk": property(lambda self: self.id)},
)


# A claimed message's values as a _Locked row.
_read_locked = attrgetter(*_Locked.__slots__)


class Event(NamedTuple):
    """A history row to append (see insert_events)."""

    message_id: int | None
    account_id: int
    provider_message_id: str
    kind: str
    status: str
    applied: bool
    payload: Any
    # The payload as JSON text, where screening wrote it already (kept
    # instead of ``payload``).
    payload_json: str | None = None


# The columns of an Event (the last field is how its payload travels).
_EVENT_COLUMNS = Event._fields[:-1]
_EVENT_ID = _EVENT_COLUMNS.index("provider_message_id")


def apply_updates(updates: list[Update], *, locked: list[_Locked] | None = None) -> int:
    """Apply status updates; returns how many messages changed status.
    ``locked``: the messages' rows as ``locked_messages`` gave them, where
    the caller has locked them already in the current transaction."""
    if not updates:
        return 0
    by_id: dict[int, list[Update]] = defaultdict(list)
    for update in updates:
        by_id[update.message_id].append(update)
    now = timezone.now()
    with transaction.atomic():
        # Plain rows, not model instances: a batch holds thousands.
        if locked is not None:
            messages = [m for m in locked if m.id in by_id]
        elif connection.vendor == "postgresql":
            messages = locked_messages("m.id = ANY(%b::bigint[])", [list(by_id)])
        else:
            messages = [
                _Locked(*row)
                for row in Message.objects.select_for_update()
                .filter(id__in=list(by_id))
                .order_by("id")
                .values_list(*_Locked.__slots__)
            ]
        events, dirty = [], []
        deltas = Deltas()
        changed_status = 0
        for message in messages:
            touched, moved = _settle(message, by_id[message.id], now, events, deltas)
            if touched:
                dirty.append(message)
            changed_status += moved
        if dirty:
            write_messages(dirty, _FIELDS)
        insert_events(events)
        deltas.save()
    return changed_status


def locked_messages(condition: str, params: list) -> list[_Locked]:
    """Messages (``m``) matching the SQL ``condition``, locked and read in id
    order (so two writers never deadlock) as the status path reads them: one
    statement, its parameters sent apart (PostgreSQL)."""
    table = connection.ops.quote_name(Message._meta.db_table)
    columns = ", ".join(f"m.{Message._meta.get_field(name).column}" for name in _Locked.__slots__)
    sql = f"SELECT {columns} FROM {table} m WHERE {condition} ORDER BY m.id FOR UPDATE OF m"
    with array_cursor() as cursor:
        # Results in binary: psycopg reads each time (three a row) in C,
        # as aware datetimes in the connection's time zone (UTC).
        cursor.execute(sql, params, binary=True)
        return [_Locked(*row) for row in cursor.fetchall()]


def apply_claimed(messages: list[Message], updates: list[Update]) -> int:
    """Apply the provider's answers for messages one claim holds (status
    "sending" under the claim's token, read whole by the claim): returns how
    many changed status.

    While a message is "sending" under its claim, only that claim's worker
    writes it, so its row is as the claim read it (but for the time of the
    request). On PostgreSQL the results are therefore worked out from the
    claimed messages and written with one conditional UPDATE, without
    locking and reading the rows first; a message that is no longer held as
    claimed (a delivery report came first, or recovery took it back) is
    left out by that condition and goes through ``apply_updates``."""
    by_id = {m.id: m for m in messages}
    token = messages[0].claim_token if messages else None
    if (
        connection.vendor != "postgresql"
        or token is None
        or len({u.message_id for u in updates}) != len(updates)
        or any(m.claim_token != token for m in messages)
        or any(u.message_id not in by_id for u in updates)
    ):
        return apply_updates(updates)
    now = timezone.now()
    with transaction.atomic():
        settled = []
        for update in sorted(updates, key=attrgetter("message_id")):
            row = _Locked(*_read_locked(by_id[update.message_id]))
            before = (row.status, row.actual_cost, row.segments)
            settled.append((row, update, _apply_one(row, update, now), before))
        rows = [row for row, _, applied, _ in settled if applied]
        # Only the columns some answer changed (a row still held by the
        # claim holds the claimed values in the others).
        changed = [
            name
            for name in _CLAIMED_RESULT
            if any(getattr(row, name) != getattr(by_id[row.id], name) for row in rows)
        ] or ["status"]
        written = _write_unnest(
            Message,
            rows,
            [Message._meta.get_field(name) for name in changed],
            5000,
            # Still as the claim read it: in "sending", under this claim.
            expect={"status": [by_id[row.id].status for row in rows]},
            same={"claim_token": token},
        )
        events, deltas, rest = [], Deltas(), []
        changed_status = 0
        for row, update, _, before in settled:
            if row.id not in written:
                rest.append(update)
                continue
            events.append(_event(row, update, True))
            changed_status += _count(row, *before, deltas)
        insert_events(events)
        deltas.save()
        changed_status += apply_updates(rest)
    return changed_status


# What a provider's answer to a submit may change (the request time stays
# as the worker set it).
_CLAIMED_RESULT = [name for name in _FIELDS if name != "submitted_at"]


def _settle(message: _Locked, updates: list[Update], now, events: list, deltas: Deltas):
    """Apply one message's updates in memory, adding its history rows to
    ``events`` and its counter changes to ``deltas``. Returns whether the
    row changed and whether its status did (1 or 0)."""
    before = (message.status, message.actual_cost, message.segments)
    touched = False
    for update in updates:
        applied = _apply_one(message, update, now)
        touched = touched or applied
        events.append(_event(message, update, applied))
    if not touched:
        return False, 0
    return True, _count(message, *before, deltas)


def _event(message: _Locked, update: Update, applied: bool) -> Event:
    return Event(
        message.id,
        message.account_id,
        update.provider_message_id or message.provider_message_id,
        update.kind,
        update.status,
        applied,
        _jsonable(update.payload),
        update.payload_json,
    )


def _count(message: _Locked, before_status, before_cost, before_segments, deltas: Deltas) -> int:
    """Counter changes of a changed message; 1 if its status moved."""
    if message.segments != before_segments:
        # The provider counted the parts differently: its count holds.
        deltas.add(message, message.status, segments=message.segments - before_segments)
    if message.actual_cost != before_cost:
        deltas.add(message, message.status, actual=(message.actual_cost or 0) - (before_cost or 0))
    if message.status == before_status:
        return 0
    deltas.move(message, before_status, message.status, segments=before_segments)
    return 1


def write_messages(messages: list[Message], fields: list[str], chunk: int = 5000) -> None:
    """Write these fields of many messages in one statement per chunk.
    (bulk_update's CASE per field and row costs more in Python than the
    database takes to write them.) On PostgreSQL each column travels as one
    array parameter, unnested and joined to the table; elsewhere as a VALUES
    list."""
    if not messages:
        return
    model_fields = [Message._meta.get_field(name) for name in fields]
    if connection.vendor == "postgresql":
        _write_unnest(Message, messages, model_fields, chunk)
    else:
        _write_values(Message, messages, model_fields, chunk)


# PostgreSQL array types of the columns the status path writes.
_ARRAY_TYPES = {
    "AutoField": "bigint[]",
    "BigAutoField": "bigint[]",
    "ForeignKey": "bigint[]",
    "BigIntegerField": "bigint[]",
    "IntegerField": "integer[]",
    "PositiveSmallIntegerField": "smallint[]",
    "SmallIntegerField": "smallint[]",
    "BooleanField": "boolean[]",
    "DecimalField": "numeric[]",
    "DateTimeField": "timestamptz[]",
    "DateField": "date[]",
    "UUIDField": "uuid[]",
    "JSONField": "jsonb[]",
}


def array_cursor():
    """A cursor that sends parameters apart from the SQL (server-side
    binding): an array of thousands of values travels as one parameter
    instead of being quoted into the statement's text. Same connection and
    transaction as the ORM's."""
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def _array_type(field) -> str:
    return _ARRAY_TYPES.get(field.get_internal_type(), "text[]")


def _write_unnest(model, rows, model_fields, chunk, *, expect=None, same=None) -> set:
    """UPDATE from one array parameter per column; returns the ids written.
    ``expect``: {field name: [value per row]}, what each row must still hold
    to be written (compared row by row, so the planner finds rows by id and
    never through an index on the expected value). ``same``: {field name:
    value} every row must still hold, for columns no index covers."""
    table = connection.ops.quote_name(model._meta.db_table)
    pk = model._meta.pk
    expect = expect or {}
    same = same or {}
    expected = [model._meta.get_field(name) for name in expect]
    columns = [f.column for f in model_fields]
    names = ["pk__", *columns, *(f"was__{f.column}" for f in expected)]
    unnest = ", ".join(f"%b::{_array_type(f)}" for f in [pk, *model_fields, *expected])
    assignments = ", ".join(f"{c} = v.{c}" for c in columns)
    conditions = "".join(f" AND {table}.{f.column} = v.was__{f.column}" for f in expected)
    conditions += "".join(
        f" AND {table}.{model._meta.get_field(name).column} = %s" for name in same
    )
    sql = (
        f"UPDATE {table} SET {assignments} FROM unnest({unnest}) AS v({', '.join(names)}) "
        f"WHERE {table}.{pk.column} = v.pk__{conditions} RETURNING {table}.{pk.column}"
    )
    written = set()
    with array_cursor() as cursor:
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            params = [[m.pk for m in part]]
            # psycopg adapts these Python values (str, int, Decimal, aware
            # datetimes, UUID) itself, as the array's elements.
            params += [[getattr(m, f.attname) for m in part] for f in model_fields]
            params += [values[start : start + chunk] for values in expect.values()]
            params += list(same.values())
            cursor.execute(sql, params)
            written.update(row[0] for row in cursor.fetchall())
    return written


def _write_values(model, rows, model_fields, chunk) -> None:
    table = connection.ops.quote_name(model._meta.db_table)
    pk = model._meta.pk
    columns = [f.column for f in model_fields]
    assignments = ", ".join(f"{c} = v.{c}" for c in columns)
    row = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
    step = min(chunk, 1000)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), step):
            part = rows[start : start + step]
            params = []
            for m in part:
                params.append(m.pk)
                params.extend(
                    f.get_db_prep_save(getattr(m, f.attname), connection) for f in model_fields
                )
            cursor.execute(
                f"WITH v(pk__, {', '.join(columns)}) AS (VALUES {', '.join([row] * len(part))}) "
                f"UPDATE {table} SET {assignments} FROM v WHERE {table}.{pk.column} = v.pk__",
                params,
            )


# The PostgreSQL array type of each Event field, in order; the payload
# travels as text and is cast to jsonb.
_EVENT_TYPES = ("bigint[]", "bigint[]", "text[]", "text[]", "text[]", "boolean[]", "text[]")


def insert_events(events: list[Event], chunk: int = 5000) -> None:
    """Append history rows. On PostgreSQL one INSERT … SELECT FROM unnest per
    chunk (an array parameter per column); elsewhere bulk_create."""
    if not events:
        return
    if connection.vendor != "postgresql":
        MessageEvent.objects.bulk_create((_event_row(e) for e in events), batch_size=1000)
        return
    table = connection.ops.quote_name(MessageEvent._meta.db_table)
    names = _EVENT_COLUMNS
    unnest = ", ".join(f"%b::{kind}" for kind in _EVENT_TYPES)
    select = ", ".join(f"v.{name}" for name in names[:-1])
    sql = (
        f"INSERT INTO {table} ({', '.join(names)}, created_at) "
        f"SELECT {select}, v.payload::jsonb, %s FROM unnest({unnest}) AS v({', '.join(names)})"
    )
    now = timezone.now()
    with array_cursor() as cursor:
        for start in range(0, len(events), chunk):
            columns = [list(column) for column in zip(*events[start : start + chunk], strict=True)]
            written = columns.pop()
            columns[_EVENT_ID] = [storable(value)[:200] for value in columns[_EVENT_ID]]
            columns[-1] = [
                keepable_json(payload) if text is None else text
                for payload, text in zip(columns[-1], written, strict=True)
            ]
            cursor.execute(sql, [now, *columns])


def _event_row(event: Event) -> MessageEvent:
    fields = dict(zip(_EVENT_COLUMNS, event, strict=False))
    fields["provider_message_id"] = storable(event.provider_message_id)[:200]
    fields["payload"] = json.loads(
        keepable_json(event.payload) if event.payload_json is None else event.payload_json
    )
    return MessageEvent(**fields)


def _apply_one(message: Message, update: Update, now: dt.datetime) -> bool:
    """Apply one update to a locked message in memory; False if it was stale."""
    changed = False
    # What a provider answered is kept as the database can keep it (a
    # report's texts were screened at the door; an answer's were not).
    if update.provider_message_id and not message.provider_message_id:
        message.provider_message_id = storable(update.provider_message_id)[:200]
        changed = True
    if update.cost is not None and message.actual_cost is None:
        message.actual_cost = update.cost
        message.currency = storable(update.currency)[:3] or message.currency
        changed = True
    if (
        update.segments
        and update.segments != message.segments
        and message.status
        in (
            Status.SENDING,
            Status.ACCEPTED,
        )
    ):
        message.segments = update.segments
        changed = True
    if not can_move(message.status, update.status):
        return changed
    message.status = update.status
    # The state a message is in says why: a failed attempt before it (a 503
    # that a retry got past) stays in the history, not on the message.
    message.error_code = storable(update.error_code)[:64]
    message.error_description = storable(update.error_description)[:500]
    if update.status == Status.ACCEPTED or update.sent_at:
        message.sent_at = message.sent_at or update.sent_at or now
    if update.status in FINAL:
        message.done_at = update.done_at or now
        if message.actual_cost is None:
            # No price from the provider: what the rate card says it costs,
            # and nothing for what was refused before it went anywhere.
            message.actual_cost = (
                message.estimated_cost if update.status in _CHARGED else Decimal(0)
            )
    return True


class Deltas:
    """Changes to the counters, gathered in memory and written as a few delta
    rows keyed by campaign, account, destination country and status, dated
    today (so reports can roll them up by day)."""

    def __init__(self):
        self.rows: dict[tuple, list] = defaultdict(lambda: [0, Decimal(0), Decimal(0), 0])

    def add(self, message, status, *, count=0, estimated=0, actual=0, segments=0):
        """``message`` is anything with campaign_id, account_id and country."""
        row = self.rows[(message.campaign_id, message.account_id, message.country or "", status)]
        row[0] += count
        row[1] += estimated
        row[2] += actual
        row[3] += segments

    def move(self, message, old, new, *, count=1, estimated=None, segments=None):
        """``count`` messages (like ``message``) went from ``old`` to ``new``."""
        estimated = message.estimated_cost if estimated is None else estimated
        segments = message.segments if segments is None else segments
        self.add(message, old, count=-count, estimated=-estimated, segments=-segments)
        self.add(message, new, count=count, estimated=estimated, segments=segments)

    def move_each(self, messages, old, new):
        """Each of ``messages`` went from ``old`` to ``new`` (summed per
        counter row first: a claim moves hundreds at once)."""
        totals: dict[tuple, list] = {}
        for m in messages:
            key = (m.campaign_id, m.account_id, m.country or "")
            total = totals.get(key)
            if total is None:
                totals[key] = [1, m.estimated_cost, m.segments]
            else:
                total[0] += 1
                total[1] += m.estimated_cost
                total[2] += m.segments
        for (campaign_id, account_id, country), (n, est, seg) in totals.items():
            group = _Group(
                {"campaign_id": campaign_id, "account_id": account_id, "country": country,
                 "est": est, "seg": seg, "n": n}
            )  # fmt: skip
            self.move(group, old, new, count=group.count)

    def save(self) -> None:
        minute = timezone.now().replace(second=0, microsecond=0)
        today = minute.date()
        CampaignCounter.objects.bulk_create(
            CampaignCounter(
                campaign_id=campaign_id,
                account_id=account_id,
                country=country,
                status=status,
                day=today,
                minute=minute,
                count=count,
                estimated_cost=estimated,
                actual_cost=actual,
                segments=segments,
            )
            for (campaign_id, account_id, country, status), (
                count,
                estimated,
                actual,
                segments,
            ) in self.rows.items()
            if count or estimated or actual or segments
        )
        self.rows.clear()


class _Group:
    """A GROUP BY row standing in for its messages in Deltas."""

    def __init__(self, row: dict):
        self.campaign_id = row["campaign_id"]
        self.account_id = row["account_id"]
        self.country = row["country"]
        self.estimated_cost = row["est"] or Decimal(0)
        self.segments = row["seg"] or 0
        self.count = row["n"]
        self.status = row.get("status")


def grouped(queryset) -> list[_Group]:
    """Messages of ``queryset`` grouped by what the counters are keyed by."""
    from django.db.models import Count, Sum

    return [
        _Group(row)
        for row in queryset.values("campaign_id", "account_id", "country", "status").annotate(
            n=Count("id"), est=Sum("estimated_cost"), seg=Sum("segments")
        )
    ]


_JSON_TYPES = (dict, list, str, int, float, bool)


def _jsonable(payload: Any) -> Any:
    if payload is None:
        return {}
    if isinstance(payload, _JSON_TYPES):
        return payload
    return str(payload)


def bulk_status_change(queryset, new_status: str, *, reason: str = "", chunk: int = 5000) -> int:
    """Move every message of ``queryset`` that may move to ``new_status``
    (e.g. cancel all pending), a locked chunk at a time, with counter deltas
    computed from exactly the rows that moved."""
    from providers.status import statuses_before

    fields = {"status": new_status}
    if reason:
        fields.update(error_code="", error_description=reason[:500])
    total = 0
    while True:
        with transaction.atomic():
            ids = list(
                queryset.filter(status__in=statuses_before(new_status))
                .select_for_update(skip_locked=True)
                .order_by("id")
                .values_list("id", flat=True)[:chunk]
            )
            if not ids:
                return total
            rows = Message.objects.filter(id__in=ids)
            groups = grouped(rows)
            if new_status in FINAL:
                fields["done_at"] = timezone.now()
            total += rows.update(**fields)
            deltas = Deltas()
            for g in groups:
                deltas.move(g, g.status, new_status, count=g.count)
            deltas.save()
