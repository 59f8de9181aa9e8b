"""Writes for contacts, lists and suppressions."""

import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from smsportal import audit
from smsportal.celery import enqueue
from smsportal.phones import InvalidNumber, normalise

from . import imports
from .imports import ImportFileError
from .models import (
    Consent,
    ConsentEvent,
    Contact,
    ContactImport,
    ContactList,
    ListMembership,
    Segment,
    Suppression,
)
from .signals import numbers_suppressed

logger = logging.getLogger(__name__)


@dataclass
class AddResult:
    added: int = 0
    updated: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (row, value, reason)


def contact_upsert(
    *,
    phone: str,
    default_region: str = "",
    first_name: str = "",
    last_name: str = "",
    attributes: dict | None = None,
) -> tuple[Contact, bool]:
    """Create the contact for this number, or update the one that exists
    (non-empty values win; attributes are merged)."""
    number = normalise(phone, default_region)
    contact, created = Contact.objects.get_or_create(
        phone=number.e164,
        defaults={
            "first_name": first_name,
            "last_name": last_name,
            "attributes": attributes or {},
            "country": number.country,
            "time_zone": number.time_zone,
        },
    )
    if not created:
        changed = False
        for name, value in (("first_name", first_name), ("last_name", last_name)):
            if value and getattr(contact, name) != value:
                setattr(contact, name, value)
                changed = True
        if attributes:
            merged = {**contact.attributes, **attributes}
            if merged != contact.attributes:
                contact.attributes = merged
                changed = True
        if changed:
            contact.save()
    return contact, created


@transaction.atomic
def list_add_contacts(
    *, contact_list: ContactList, rows: list[dict], default_region: str = ""
) -> AddResult:
    """Add contacts given as dicts (phone, first_name, last_name, attributes)
    to a list. Invalid numbers are reported per row, the rest are kept."""
    result = AddResult()
    for index, row in enumerate(rows, start=1):
        raw = str(row.get("phone", ""))
        try:
            contact, created = contact_upsert(
                phone=raw,
                default_region=default_region,
                first_name=row.get("first_name", ""),
                last_name=row.get("last_name", ""),
                attributes=row.get("attributes"),
            )
        except InvalidNumber as exc:
            result.errors.append((index, raw, str(exc)))
            continue
        _, joined = ListMembership.objects.get_or_create(contact_list=contact_list, contact=contact)
        if created or joined:
            result.added += 1
        else:
            result.updated += 1
    ContactList.recount_members([contact_list.pk])
    return result


def parse_pasted_numbers(text: str) -> list[dict]:
    """One contact per line: "number[, first name[, last name]]"."""
    rows = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.replace(";", ",").replace("\t", ",").split(",")]
        if not parts or not parts[0]:
            continue
        rows.append(
            {
                "phone": parts[0],
                "first_name": parts[1] if len(parts) > 1 else "",
                "last_name": parts[2] if len(parts) > 2 else "",
            }
        )
    return rows


def list_create(*, name: str, description: str = "", user=None) -> ContactList:
    contact_list = ContactList.objects.create(name=name, description=description, created_by=user)
    audit.record("list.create", actor=user, obj=contact_list)
    return contact_list


def suppression_add(
    *,
    phone: str,
    reason: str = Suppression.Reason.MANUAL,
    note: str = "",
    user=None,
    default_region: str = "",
) -> Suppression:
    number = normalise(phone, default_region)
    suppression, created = Suppression.objects.get_or_create(
        phone=number.e164, defaults={"reason": reason, "note": note[:255], "created_by": user}
    )
    if created:
        audit.record("suppression.add", actor=user, obj=suppression, reason=reason)
        consent_record(
            phone=number.e164,
            state=Consent.OPTED_OUT,
            source=ConsentEvent.Source.PAGE,
            detail=f"Suppressed: {note}" if note else "Suppressed",
            user=user,
        )
        announce_suppressed([number.e164])
    return suppression


def announce_suppressed(phones: list[str] | None) -> None:
    """Tell the apps above, once this transaction commits, that these
    numbers (None: many, from an import) are suppressed, so messages handed
    to a provider ahead of their time are cancelled there."""
    transaction.on_commit(lambda: numbers_suppressed.send(sender=Suppression, phones=phones))


# ---------------------------------------------------------------- consent


def consent_record(
    *, phone: str, state: str, source: str, detail: str = "", user=None
) -> ConsentEvent | None:
    """Record a change of consent for the contact with this number (if there
    is one): its history gains a row and its consent becomes ``state``.
    Returns the history row."""
    contact = Contact.objects.filter(phone=phone).only("id", "consent").first()
    if contact is None:
        return None
    event = ConsentEvent.objects.create(
        contact=contact, state=state, source=source, detail=detail[:255], created_by=user
    )
    Contact.objects.filter(pk=contact.pk).update(consent=state, updated_at=timezone.now())
    audit.record(
        "contact.consent",
        actor=user,
        obj=contact,
        state=state,
        source=source,
        detail=detail[:255],
    )
    return event


def consent_set(*, contact: Contact, state: str, note: str = "", user) -> ConsentEvent:
    """A person records a contact's consent on its page."""
    if state not in Consent.values:
        raise ValueError(f"unknown consent state {state!r}")
    detail = note.strip() or "Recorded on the contact page"
    return consent_record(
        phone=contact.phone, state=state, source=ConsentEvent.Source.PAGE, detail=detail, user=user
    )


def contact_update(
    *, contact: Contact, first_name: str, last_name: str, attributes: dict, user
) -> Contact:
    """A person corrects a contact on its page: names and attributes (the
    number is what the contact is; consent has its own record)."""
    before = {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "attributes": dict(contact.attributes or {}),
    }
    contact.first_name, contact.last_name = first_name.strip(), last_name.strip()
    contact.attributes = {str(k): str(v) for k, v in attributes.items()}
    after = {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "attributes": contact.attributes,
    }
    changed = sorted(k for k in before if before[k] != after[k])
    if not changed:
        return contact
    contact.save(update_fields=["first_name", "last_name", "attributes", "updated_at"])
    keys_before, keys_after = set(before["attributes"]), set(contact.attributes)
    audit.record(
        "contact.edit",
        actor=user,
        obj=contact,
        changed=changed,
        attributes_added=sorted(keys_after - keys_before),
        attributes_removed=sorted(keys_before - keys_after),
    )
    if keys_after - keys_before:
        from . import segments

        segments.attribute_names_changed()
    return contact


def suppression_remove(*, suppression: Suppression, user) -> None:
    audit.record("suppression.remove", actor=user, obj=suppression, reason=suppression.reason)
    suppression.delete()


# ------------------------------------------------------------------ lists


def list_rename(*, contact_list: ContactList, name: str, description: str, user=None):
    old = contact_list.name
    contact_list.name, contact_list.description = name, description
    contact_list.save(update_fields=["name", "description"])
    if old != name:
        audit.record("list.rename", actor=user, obj=contact_list, old=old)
    return contact_list


class ListInUse(Exception):
    pass


def list_delete(*, contact_list: ContactList, user=None) -> None:
    """Delete a list; its contacts stay (they may be in other lists, and
    their message history is theirs). A list a live campaign sends to stays."""
    busy = contact_list.campaigns.filter(state__in=["scheduled", "running", "paused"])
    if busy.exists():
        names = ", ".join(str(c) for c in busy[:3])
        raise ListInUse(f"The list is the audience of a campaign that is not finished: {names}.")
    audit.record("list.delete", actor=user, obj=contact_list)
    contact_list.delete()


def list_remove_contacts(*, contact_list: ContactList, contact_ids, user=None) -> int:
    removed, _ = ListMembership.objects.filter(
        contact_list=contact_list, contact_id__in=list(contact_ids)
    ).delete()
    ContactList.recount_members([contact_list.pk])
    if removed:
        audit.record("list.remove_contacts", actor=user, obj=contact_list, count=removed)
    return removed


# ---------------------------------------------------------------- imports


def _import_dir() -> Path:
    path = Path(settings.CONTACT_IMPORT_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def import_upload(
    *, uploaded, user, target=ContactImport.Target.LIST, contact_list=None
) -> ContactImport:
    """Keep an uploaded file and take a first look at it. A file that cannot
    be imported at all raises ImportFileError and is not kept."""
    if uploaded.size > settings.CONTACT_IMPORT_MAX_BYTES:
        limit = settings.CONTACT_IMPORT_MAX_BYTES // (1024 * 1024)
        raise ImportFileError(f"The file is larger than {limit:,} MB.")
    stored_name = f"{uuid.uuid4().hex}{Path(uploaded.name).suffix.lower()[:8]}"
    path = _import_dir() / stored_name
    with path.open("wb") as out:
        for chunk in uploaded.chunks():
            out.write(chunk)
    try:
        found = imports.inspect(path)
    except ImportFileError:
        path.unlink(missing_ok=True)
        raise
    return ContactImport.objects.create(
        target=target,
        contact_list=contact_list,
        original_name=Path(uploaded.name).name[:255],
        stored_name=stored_name,
        file_format=found.file_format,
        size_bytes=path.stat().st_size,
        encoding=found.encoding,
        delimiter=found.delimiter,
        has_header=found.has_header,
        columns=found.columns,
        sample_rows=found.sample_rows,
        mapping=imports.guess_mapping(found.columns) if found.has_header else {"0": "phone"},
        created_by=user,
    )


def import_start(
    *, contact_import: ContactImport, mapping: dict, default_country: str, has_header: bool, user
) -> ContactImport:
    """The user has mapped the columns: hand the import to a worker."""
    imports.resolve_mapping(mapping, contact_import.columns)
    with transaction.atomic():
        locked = ContactImport.objects.select_for_update().get(pk=contact_import.pk)
        if locked.state != ContactImport.State.MAPPING:
            return locked
        locked.mapping = mapping
        locked.default_country = default_country
        locked.has_header = has_header
        locked.state = ContactImport.State.QUEUED
        locked.save()
        audit.record(
            "import.start",
            actor=user,
            obj=locked,
            list=locked.contact_list_id,
            file=locked.original_name,
        )
        enqueue("contacts.tasks.import_contacts", locked.pk)
    return locked


# A worker that has not touched its import for this long is gone.
IMPORT_STALL_SECONDS = 120


def import_is_stalled(contact_import: ContactImport) -> bool:
    if contact_import.state != ContactImport.State.RUNNING or not contact_import.heartbeat_at:
        return False
    return (timezone.now() - contact_import.heartbeat_at).total_seconds() > IMPORT_STALL_SECONDS


def import_restart(*, contact_import: ContactImport, user) -> bool:
    """Run a failed (or stalled) import again from the start: the merge is
    by number, so rows already in are not duplicated."""
    stalled_before = timezone.now() - timedelta(seconds=IMPORT_STALL_SECONDS)
    restarted = (
        ContactImport.objects.filter(pk=contact_import.pk)
        .filter(
            Q(state=ContactImport.State.FAILED)
            | Q(state=ContactImport.State.RUNNING, heartbeat_at__lt=stalled_before)
        )
        .update(state=ContactImport.State.QUEUED, error="")
    )
    if restarted:
        audit.record("import.restart", actor=user, obj=contact_import)
        enqueue("contacts.tasks.import_contacts", contact_import.pk)
    return bool(restarted)


def import_run(import_id: int) -> ContactImport | None:
    """Do the import (in a worker). Safe to run twice: a finished import is
    left alone, and a repeated one merges to the same result."""
    stalled_before = timezone.now() - timedelta(seconds=IMPORT_STALL_SECONDS)
    claimed = ContactImport.objects.filter(
        Q(state=ContactImport.State.QUEUED)
        | Q(state=ContactImport.State.RUNNING, heartbeat_at__lt=stalled_before),
        pk=import_id,
    ).update(
        state=ContactImport.State.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        attempts=F("attempts") + 1,
        rows_read=0,
        rows_valid=0,
        rows_invalid=0,
        bytes_read=0,
    )
    if not claimed:
        return None
    job = ContactImport.objects.select_related("contact_list", "created_by").get(pk=import_id)
    path = _import_dir() / job.stored_name
    report_name = f"{job.stored_name}.errors.csv"

    def progress(summary, fraction):
        ContactImport.objects.filter(pk=job.pk, state=ContactImport.State.RUNNING).update(
            rows_read=summary.rows_read,
            rows_valid=summary.rows_valid,
            rows_invalid=summary.rows_invalid,
            bytes_read=int(fraction * job.size_bytes),
            heartbeat_at=timezone.now(),
        )

    suppress = job.target == ContactImport.Target.SUPPRESSIONS
    failure = ""
    try:
        if not suppress and job.contact_list is None:
            raise ImportFileError("The list this import was for has been deleted.")
        if not path.exists():
            raise ImportFileError("The uploaded file is no longer there; upload it again.")
        summary = imports.run_import(
            path,
            contact_list=job.contact_list,
            mapping=job.mapping,
            default_country=job.default_country,
            has_header=job.has_header,
            inspection=imports.Inspection(
                file_format=job.file_format,
                encoding=job.encoding,
                delimiter=job.delimiter,
                has_header=job.has_header,
                columns=job.columns,
            ),
            suppress=suppress,
            user=job.created_by,
            error_report=_import_dir() / report_name,
            progress=progress,
            source_name=job.original_name,
        )
    except ImportFileError as exc:
        failure = str(exc)
    except Exception as exc:
        logger.exception("Contact import %s failed", job.pk)
        failure = f"The import stopped on an unexpected error ({type(exc).__name__}: {exc})."
    if failure:
        ContactImport.objects.filter(pk=job.pk).update(
            state=ContactImport.State.FAILED,
            error=failure + " Nothing from this file was imported.",
            finished_at=timezone.now(),
        )
        audit.record("import.fail", obj=job, reason=failure)
        job.refresh_from_db()
        return job
    ContactImport.objects.filter(pk=job.pk).update(
        state=ContactImport.State.COMPLETED,
        rows_read=summary.rows_read,
        rows_valid=summary.rows_valid,
        rows_invalid=summary.rows_invalid,
        created=summary.created,
        updated=summary.updated,
        added=summary.added,
        duplicates=summary.duplicates,
        bytes_read=job.size_bytes,
        error_report_name=report_name if summary.rows_invalid else "",
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )
    if suppress and summary.added:
        audit.record("suppression.import", actor=job.created_by, obj=job, count=summary.added)
        announce_suppressed(None)
    if job.contact_list_id and not suppress:
        ContactList.recount_members([job.contact_list_id])
    job.refresh_from_db()
    return job


def import_error_report(contact_import: ContactImport) -> Path | None:
    if not contact_import.error_report_name:
        return None
    path = _import_dir() / contact_import.error_report_name
    return path if path.exists() else None


def import_eta_seconds(contact_import: ContactImport) -> int | None:
    """Time left, from how far into the file the worker is."""
    if contact_import.state != ContactImport.State.RUNNING or not contact_import.started_at:
        return None
    done = contact_import.bytes_read / contact_import.size_bytes if contact_import.size_bytes else 0
    if done <= 0.01:
        return None
    elapsed = (timezone.now() - contact_import.started_at).total_seconds()
    return max(int(elapsed / done - elapsed), 0)


# --------------------------------------------------------------- segments


def segment_save(
    *, segment: Segment | None = None, name: str, description: str, match: str, conditions, user
) -> Segment:
    created = segment is None
    segment = segment or Segment(created_by=user)
    segment.name, segment.description, segment.match = name, description, match
    segment.conditions = list(conditions)
    segment.save()
    audit.record("segment.create" if created else "segment.edit", actor=user, obj=segment)
    return segment


def segment_to_list(*, segment: Segment, name: str, user) -> ContactList:
    """Freeze a segment's contacts into a new list (one INSERT … SELECT), so
    a campaign can send to it as it is now."""
    from . import segments

    with transaction.atomic():
        contact_list = list_create(
            name=name,
            description=f"Contacts of the segment “{segment}” on "
            f"{timezone.localtime():%Y-%m-%d %H:%M}.",
            user=user,
        )
        sql, params = segments.contact_ids(segment).query.sql_with_params()
        table = ListMembership._meta.db_table
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (contact_list_id, contact_id, added_at) "  # noqa: S608
                f"SELECT %s, picked.id, %s FROM ({sql}) picked",
                [contact_list.pk, now, *params],
            )
        ContactList.recount_members([contact_list.pk])
    return contact_list


# ------------------------------------------------------------ suppressions


def suppression_for_contact(contact: Contact) -> Suppression | None:
    return Suppression.objects.filter(phone=contact.phone).first()
