"""Dispatch: workers claim pending messages in batches and submit them.

A message goes from pending to sending exactly once: the claim is a
conditional update on locked rows (``SKIP LOCKED`` on PostgreSQL), so two
workers never take the same row. After the provider answers, results go
through the status path (``delivery.apply_claimed``, which writes them
straight onto the rows the claim still holds). A crash between claim
and record leaves rows in "sending"; ``recover_stuck`` reconciles them and
never resends blindly.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from datetime import timedelta
from operator import attrgetter

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, DateTimeField, F, Q, Value, When
from django.utils import timezone

from contacts.models import Contact, Suppression
from providers.base import DltFields, OutboundSms, ProviderError, SendOptions
from providers.models import ProviderAccount
from providers.status import Status
from providers.throttle import limiter
from smsportal import audit

from . import compliance, compose, dlt, links
from .delivery import (
    Deltas,
    Event,
    Update,
    apply_claimed,
    apply_updates,
    array_cursor,
    insert_events,
    write_messages,
)
from .lifecycle import campaign_complete_if_done, campaign_failover, campaign_pause
from .models import Campaign, Message, MessageEvent

log = logging.getLogger(__name__)
State = Campaign.State


def send_options(campaign: Campaign) -> SendOptions:
    template = campaign.dlt_template
    return SendOptions(
        flash=campaign.flash,
        validity_minutes=campaign.validity_minutes,
        transliteration=campaign.transliteration,
        language_code=campaign.language_code,
        click_tracking=campaign.click_tracking,
        campaign_ref=campaign.campaign_ref,
        callback_data=campaign.callback_data,
        bulk_id=f"campaign-{campaign.pk}",
        dlt=DltFields(
            template_id=template.template_id,
            principal_entity_id=template.principal_entity_id,
            telemarketer_id=template.telemarketer_id,
        )
        if template
        else None,
        # Windows are held here, in each message's own zone; only a schedule
        # handed to a provider that keeps windows takes the window along,
        # where it reads the same in the provider's zone (Infobip: UTC).
        window=compose.provider_window(campaign) if _hands_over(campaign) else None,
        # Otherwise schedules are held here too, unless the campaign hands
        # its schedule to the provider.
        send_at=campaign.scheduled_at if _hands_over(campaign) else None,
    )


def _hands_over(campaign: Campaign) -> bool:
    """Messages go to the provider ahead of their time, for it to hold."""
    return bool(
        campaign.held_at_provider
        and campaign.scheduled_at
        and campaign.scheduled_at > timezone.now()
        and campaign.account.backend_class.capabilities.native_scheduling
    )


def hold_outside_window(campaign: Campaign) -> int:
    """Pending messages whose delivery window is closed wait until it opens
    (their ``not_before`` moves), so claims only see sendable rows."""
    window = campaign.window
    if window is None:
        return 0
    now = timezone.now()
    pending = Message.objects.filter(
        campaign=campaign, status=Status.PENDING, is_test=False
    ).exclude(not_before__gt=now)
    zones = [""]
    if window.recipient_local:
        zones = list(pending.values_list("time_zone", flat=True).distinct())
    held = 0
    for zone in zones:
        if window.is_open(now, zone):
            continue
        rows = pending.filter(time_zone=zone) if window.recipient_local else pending
        held += rows.update(not_before=window.next_open(now, zone))
    return held


def hold_in_quiet_hours(campaign: Campaign, now=None) -> int:
    """Pending messages whose recipients are in the site's quiet hours wait
    until those are over in every zone of their number (their
    ``not_before`` moves, as for a delivery window), in one UPDATE. The
    campaign's groups of zones are found once and kept, so nothing is read
    while none of them is in quiet hours. Returns how many were held."""
    rule = compliance.quiet_hours_for(campaign)
    if rule is None or _hands_over(campaign):
        return 0
    now = now or timezone.now()
    materialised = Campaign.objects.filter(pk=campaign.pk, materialised_at__isnull=False)
    if campaign.recipient_zones is None and materialised.exists():
        # Every message it will ever have is there: their groups are kept.
        campaign.recipient_zones = [
            list(group)
            for group in Message.objects.filter(campaign=campaign, is_test=False)
            .order_by()
            .values_list("time_zone", "country", "zone_is_own")
            .distinct()
        ]
        materialised.update(recipient_zones=campaign.recipient_zones)
    pending = Message.objects.filter(
        campaign=campaign, status=Status.PENDING, is_test=False
    ).exclude(not_before__gt=now)
    holds = compliance.quiet_holds(
        pending, now, rule, zone="time_zone", own="zone_is_own", groups=campaign.recipient_zones
    )
    if not holds:
        return 0
    until = Case(*(When(h.rows, then=Value(h.until)) for h in holds), output_field=DateTimeField())
    return pending.filter(compliance.any_of(holds)).update(not_before=until)


# What submitting a claimed message reads, and what the status path needs
# to record its result without reading the row again (loading whole rows
# costs more in Python than the request takes at the provider).
_CLAIMED = (
    "id",
    "campaign_id",
    "account_id",
    "contact_id",
    "variant_id",
    "phone",
    "country",
    "text",
    "encoding",
    "segments",
    "estimated_cost",
    "status",
    "claim_token",
    "submitted_at",
    "provider_message_id",
    "error_code",
    "error_description",
    "actual_cost",
    "currency",
    "sent_at",
    "done_at",
)
_CONTACT = ("first_name", "last_name", "attributes")


class Claimed:
    """A claimed message: the columns the claim returned and, for a
    personalised text, its contact. Dispatch and the status path use it as
    they would a Message; a model instance costs more to build than the
    request it is sent in."""

    __slots__ = (*_CLAIMED, "contact")
    pk = property(attrgetter("id"))
    ref = Message.ref

    def __init__(self, values):
        for name, value in zip(_CLAIMED, values, strict=True):
            setattr(self, name, value)
        self.contact = None


def _claimed_rows(sql: str, params: list) -> list[Claimed]:
    """Run the claim and turn its rows into Python values as the ORM would
    (on PostgreSQL the driver has already done so: in binary, with its own
    loaders for every column, none of them written in Python)."""
    if connection.vendor == "postgresql":
        with array_cursor() as cursor:
            cursor.execute(sql, params, binary=True)
            return sorted(map(Claimed, cursor.fetchall()), key=attrgetter("id"))
    table = Message._meta.db_table
    converters = []
    for index, name in enumerate(_CLAIMED):
        field = Message._meta.get_field(name)
        column = field.get_col(table)
        found = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        if found:
            converters.append((index, column, found))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if converters:
        rows = [list(row) for row in rows]
        for row in rows:
            for index, column, found in converters:
                for convert in found:
                    row[index] = convert(row[index], column, connection)
    return sorted(map(Claimed, rows), key=attrgetter("id"))


def claim(campaign: Campaign, limit: int, *, after: int = 0) -> list[Claimed]:
    """Take up to ``limit`` due messages for this worker: pending to sending,
    exactly once, under a fresh claim token, in id order from just after
    ``after`` (the last id of this worker's previous claim: the index entries
    of rows claimed before are skipped, not walked). Handing a schedule to
    the provider, every pending message is due (the provider holds it).

    One statement picks the rows, moves them and returns what sending
    needs. On PostgreSQL the pick locks them, skipping rows another worker
    has locked, and checks again that each is still pending once locked; a
    locked row cannot change before the move.

    A number suppressed now is never sent to, whenever the suppression came
    (after launch, while the campaign waited for its time, its window or a
    resume): the same statement looks each picked number up in the
    suppression table's unique index and marks those messages skipped
    ("opted_out") instead of sending. Only the messages to send are
    returned; a batch that was all opted out is followed by the next."""
    while True:
        picked = _claim_once(campaign, limit, after=after)
        if not picked:
            return []
        sending = [m for m in picked if m.status == Status.SENDING]
        if sending:
            return sending
        after = picked[-1].id


def _claim_once(campaign: Campaign, limit: int, *, after: int) -> list[Claimed]:
    now = timezone.now()
    token = uuid.uuid4()
    field = Message._meta.get_field
    due = "m.campaign_id = %s AND m.status = %s AND NOT m.is_test AND m.id > %s"
    params: list = [campaign.pk, Status.PENDING, after]
    if not _hands_over(campaign):
        due += " AND (m.not_before IS NULL OR m.not_before <= %s)"
        params.append(field("not_before").get_db_prep_value(now, connection))
    lock = ""
    if connection.features.has_select_for_update_skip_locked:
        lock = connection.ops.for_update_sql(skip_locked=True)
    table = connection.ops.quote_name(Message._meta.db_table)
    suppressed = connection.ops.quote_name(Suppression._meta.db_table)
    sql = (
        f"WITH due AS (SELECT m.id, EXISTS (SELECT 1 FROM {suppressed} s WHERE s.phone = m.phone) "  # noqa: S608 - the models' own tables
        f"AS opted_out FROM {table} m WHERE {due} ORDER BY m.id LIMIT %s {lock}) "
        f"UPDATE {table} SET "
        f"status = CASE WHEN due.opted_out THEN %s ELSE %s END, "
        f"skip_reason = CASE WHEN due.opted_out THEN %s ELSE {table}.skip_reason END, "
        f"submitted_at = CASE WHEN due.opted_out THEN NULL ELSE %s END, "
        f"claim_token = CASE WHEN due.opted_out THEN NULL ELSE %s END "
        f"FROM due WHERE {table}.id = due.id "
        f"RETURNING {', '.join(f'{table}.{name}' for name in _CLAIMED)}"
    )
    params += [
        limit,
        Status.SKIPPED,
        Status.SENDING,
        OPTED_OUT,
        field("submitted_at").get_db_prep_value(now, connection),
        field("claim_token").get_db_prep_value(token, connection),
    ]
    with transaction.atomic():
        messages = _claimed_rows(sql, params)
        if not messages:
            return []
        # RETURNING gives no order: the engine sends (and pages on) id order.
        messages.sort(key=attrgetter("id"))
        sending = [m for m in messages if m.status == Status.SENDING]
        opted_out = [m for m in messages if m.status == Status.SKIPPED]
        if sending and _personalised(campaign):
            # Personalised: rendered per recipient, from the contact.
            contacts = Contact.objects.only(*_CONTACT).in_bulk(
                {m.contact_id for m in sending if m.contact_id}
            )
            for m in sending:
                m.contact = contacts.get(m.contact_id)
        # The claim is a status change like any other: counters follow it.
        deltas = Deltas()
        deltas.move_each(sending, Status.PENDING, Status.SENDING)
        if opted_out:
            _skip_opted_out(opted_out, deltas)
        deltas.save()
    return messages


# Why a message the claim found suppressed was skipped.
OPTED_OUT = "opted_out"


def _skip_opted_out(messages: list[Claimed], deltas: Deltas) -> None:
    """Messages whose number was suppressed after launch: skipped, priced at
    nothing (they will cost nothing), with a line in their history."""
    for m in messages:
        deltas.add(m, Status.PENDING, count=-1, estimated=-m.estimated_cost, segments=-m.segments)
        deltas.add(m, Status.SKIPPED, count=1, segments=m.segments)
    Message.objects.filter(id__in=[m.id for m in messages]).update(estimated_cost=0)
    insert_events(
        [
            Event(m.id, m.account_id, "", "note", Status.SKIPPED, True, {"reason": OPTED_OUT})
            for m in messages
        ]
    )
    log.info("%d message(s) skipped: numbers opted out after launch", len(messages))


def _still_ours(chunk: list[Message]) -> list[Message]:
    """Right before a request: the messages of the chunk this claim still
    holds, their submission time set to now (so "stuck" is measured from the
    request, not from the claim)."""
    token = chunk[0].claim_token
    if token is None:  # a test send, never claimed
        return chunk
    claimed_at = min(m.submitted_at for m in chunk)
    if timezone.now() - claimed_at < timedelta(seconds=min(2, settings.DISPATCH_STUCK_AFTER / 2)):
        # Recovery never takes back a claim this young: no need to ask.
        return chunk
    held = Message.objects.filter(
        id__in=[m.id for m in chunk], status=Status.SENDING, claim_token=token
    )
    if held.update(submitted_at=timezone.now()) == len(chunk):
        return chunk
    ours = set(held.values_list("id", flat=True))
    return [m for m in chunk if m.id in ours]


def _still_ours_wave(wave: list[list[Message]]) -> list[list[Message]]:
    """``_still_ours`` for each request of a wave; a wave whose oldest claim
    is too young for recovery to take back (the usual case) needs no look."""
    if all(chunk[0].claim_token is not None for chunk in wave):
        oldest = min(m.submitted_at for chunk in wave for m in chunk)
        young = timedelta(seconds=min(2, settings.DISPATCH_STUCK_AFTER / 2))
        if timezone.now() - oldest < young:
            return wave
    return [chunk for chunk in map(_still_ours, wave) if chunk]


def _variant_texts(campaign: Campaign) -> dict[int, str]:
    """The campaign's A/B variant texts by id, read once per campaign object
    (a dispatch run keeps its object for every claim)."""
    texts = campaign.__dict__.get("_variant_texts")
    if texts is None:
        texts = campaign.__dict__["_variant_texts"] = links.variant_texts(campaign)
    return texts


def _personalised(campaign: Campaign) -> bool:
    """Rendered per recipient from the contact: placeholders in its text or
    a variant's."""
    found = campaign.__dict__.get("_personalised")
    if found is None:
        found = campaign.__dict__["_personalised"] = any(
            compose.placeholders(text)
            for text in [campaign.text, *_variant_texts(campaign).values()]
        )
    return found


def _short_links(campaign: Campaign) -> bool:
    found = campaign.__dict__.get("_short_links")
    if found is None:
        found = campaign.__dict__["_short_links"] = links.uses_short_links(
            campaign, _variant_texts(campaign)
        )
    return found


def _render(campaign: Campaign, messages: list[Message], rates: dict, default_price) -> None:
    """Fill text, encoding, segments and estimated cost of messages rendered
    per recipient (plain texts were filled at launch): placeholders filled
    from the contact, in the text of the message's variant where it has
    one; then, where the campaign tracks links, each URL replaced by a
    short link of the message's own, written in the same transaction as
    the texts."""
    todo = [m for m in messages if not m.text]
    if not todo:
        return
    texts = _variant_texts(campaign)
    for m in todo:
        contact = m.contact
        row = {"phone": m.phone}
        if contact:
            row.update(
                first_name=contact.first_name,
                last_name=contact.last_name,
                attributes=contact.attributes,
            )
        text = texts.get(m.variant_id, campaign.text) if m.variant_id else campaign.text
        m.text = compose.render(text, row)
        if campaign.keep_gsm7:
            m.text = compose.segments.to_gsm7(m.text)
    with transaction.atomic():
        if _short_links(campaign):
            template = campaign.dlt_template
            pattern = dlt.Template(template.content) if template else None
            shortened = links.shorten(
                campaign.pk,
                [(m.id, m.text, pattern if m.country == compose.INDIA else None) for m in todo],
            )
            for m, text in zip(todo, shortened, strict=True):
                m.text = text
        deltas = Deltas()
        for m in todo:
            info = compose.segments.count(m.text)
            m.encoding, m.segments = info.encoding, info.segments
            m.estimated_cost = info.segments * rates.get(m.country, default_price)
            deltas.add(m, Status.SENDING, estimated=m.estimated_cost, segments=m.segments)
        write_messages(todo, ["text", "encoding", "segments", "estimated_cost"])
        deltas.save()


def _requests(
    messages: list[Message], caps, throughput: int, *, scheduled: bool = False
) -> list[list[Message]]:
    """Split claimed messages into provider requests, none larger than the
    account's rate (a request is a burst at the provider), nor than the
    provider takes when it is to hold them (``scheduled``)."""
    size = max(1, min(caps.recipients_per_request(scheduled=scheduled), throughput))
    if caps.distinct_texts_per_request:
        groups = [messages]
    else:
        by_text: dict[str, list[Message]] = defaultdict(list)
        for m in messages:
            by_text[m.text].append(m)
        groups = list(by_text.values())
    return [group[i : i + size] for group in groups for i in range(0, len(group), size)]


def submit_messages(
    campaign: Campaign,
    messages: list[Message],
    *,
    live: bool = True,
    widths: dict[int, int] | None = None,
) -> int:
    """Submit claimed (status "sending") messages through each one's account
    backend and record what the provider said. Requests go out in waves of up
    to DISPATCH_PARALLEL_REQUESTS at once (never more messages in a wave than
    the account's rate), each wave recorded in one pass of the status path.
    With ``live`` (a campaign send, not a test), a pause, cancel or failover
    seen between waves stops at once and the rest go back to pending.
    ``widths`` carries each account's wave width from one claim to the next
    of the same dispatch run. Returns how many were submitted."""
    if widths is None:
        widths = {}
    options = send_options(campaign)
    submitted = 0
    by_account: dict[int, list[Message]] = defaultdict(list)
    for m in messages:
        by_account[m.account_id].append(m)
    for account_id, group in by_account.items():
        account = ProviderAccount.objects.prefetch_related("rates").get(pk=account_id)
        backend = account.backend()
        rates = {r.country: r.price for r in account.rates.all()}
        _render(campaign, group, rates, account.default_price)
        chunks = _requests(
            group, backend.capabilities, account.throughput, scheduled=options.send_at is not None
        )
        index = 0
        # Start with one request and double while they succeed: a refused
        # key or a provider in trouble is found by one request, not eight.
        width = widths.get(account_id, 1)
        widest = max(
            1,
            settings.DISPATCH_WAVE_REQUESTS
            if backend.many_at_once
            else settings.DISPATCH_PARALLEL_REQUESTS,
        )
        while index < len(chunks):
            if live and not _still_sending(campaign):
                release([m for rest in chunks[index:] for m in rest])
                return submitted
            wave = _wave(chunks, index, account.throughput, width)
            index += len(wave)
            limiter.acquire(account.pk, account.throughput, sum(len(c) for c in wave))
            wave = _still_ours_wave(wave)
            if not wave:
                continue
            started = time.monotonic()
            outcome = _submit_wave(campaign, account, backend, wave, options)
            width = widths[account_id] = _next_width(width, time.monotonic() - started, widest)
            if outcome is not True:
                # Stop this pass: the rest waits as long as the failed request
                # must (backoff, Retry-After), or for good if the campaign
                # stopped; it was not tried, so no attempt is counted.
                release([m for rest in chunks[index:] for m in rest], not_before=outcome)
                widths.pop(account_id, None)
                return submitted + sum(len(c) for c in wave)
            submitted += sum(len(c) for c in wave)
    return submitted


# A wave that took longer than this is halved next time: pause and cancel
# are seen between waves, so a slow provider must not make them wait.
WAVE_SECONDS = 0.5


def _next_width(width: int, took: float, widest: int) -> int:
    """Double while waves are quick, halve when one was slow (never below
    the connections a wave goes out on: fewer would not be quicker)."""
    if took > WAVE_SECONDS:
        return max(min(width, settings.DISPATCH_PARALLEL_REQUESTS), width // 2, 1)
    return min(2 * width, widest)


def _wave(chunks: list[list[Message]], start: int, throughput: int, width: int):
    """The requests sent together: at most ``width``, and no more messages
    than a tenth of a second of the account's rate (at least one request),
    so waiting for the throughput limit a wave at a time loses little of
    the rate."""
    wave = [chunks[start]]
    total = len(chunks[start])
    most = max(1, throughput // 10)
    for chunk in chunks[start + 1 : start + width]:
        if total + len(chunk) > most:
            break
        wave.append(chunk)
        total += len(chunk)
    return wave


def _still_sending(campaign: Campaign) -> bool:
    """Pause and cancel take effect between two waves of requests."""
    return Campaign.objects.filter(pk=campaign.pk, state__in=campaign.sending_states).exists()


def _submit_wave(campaign, account, backend, wave: list[list[Message]], options):
    """Send a wave's requests (in parallel when more than one) and record
    them. True when sending may go on; otherwise the time the next request
    may be tried (None: the campaign stopped)."""
    sender = campaign.sender.value
    batches = [
        [
            OutboundSms(ref=m.ref, to=m.phone, text=m.text, sender=sender, encoding=m.encoding)
            for m in chunk
        ]
        for chunk in wave
    ]
    try:
        answers = backend.send_many(
            batches, options, connections=max(1, settings.DISPATCH_PARALLEL_REQUESTS)
        )
    except Exception as error:
        answers = [backend.crashed(error)] * len(wave)
    updates: list[Update] = []
    failed: list[tuple[list[Message], ProviderError]] = []
    for chunk, answer in zip(wave, answers, strict=True):
        if isinstance(answer, ProviderError):
            failed.append((chunk, answer))
        else:
            updates += _updates_for(chunk, answer)
    if updates:
        Campaign.objects.filter(pk=campaign.pk).exclude(consecutive_failures=0).update(
            consecutive_failures=0
        )
        apply_claimed([m for chunk in wave for m in chunk], updates)
    outcome = True
    for chunk, error in failed:
        if outcome is True or error.maybe_sent:
            result = _request_failed(campaign, account, chunk, error)
            if outcome is True:
                outcome = result
        else:
            # The wave already counted a failure and chose when to retry:
            # this request, tried too, waits as long.
            release(chunk, not_before=outcome, error=error, count_attempt=True)
    if outcome is not None and updates and _unknown_refusals_pause(campaign, answers):
        return None
    return outcome


def _unknown_refusals_pause(campaign, answers) -> bool:
    """Count recipients refused in a row with the same code their backend
    does not know (kept in the cache, so every worker of the campaign adds
    to one count); at DISPATCH_UNKNOWN_REFUSALS the campaign pauses with the
    provider's words, since a code nobody has seen may concern the account
    rather than the recipients. True when it paused."""
    from django.core.cache import cache

    # The creation time too: a key left by a campaign of a database since
    # dropped never counts for a new one with the same id.
    key = f"dispatch:unknown-refusals:{campaign.pk}:{campaign.created_at.timestamp():.6f}"
    results = [r for answer in answers if not isinstance(answer, ProviderError) for r in answer]
    if not any(r.unknown_code for r in results):
        if cache.get(key):
            cache.delete(key)
        return False
    code, count, words = cache.get(key) or ("", 0, "")
    for r in results:
        if not r.unknown_code:
            code, count = "", 0
        elif count and r.error_code == code:
            count, words = count + 1, r.error_description
        else:
            code, count, words = r.error_code, 1, r.error_description
    if count < settings.DISPATCH_UNKNOWN_REFUSALS:
        cache.set(key, (code, count, words), timeout=24 * 3600)
        return False
    cache.delete(key)
    reason = (
        f"Paused after {count} recipients in a row were refused with {code or 'no code'}, "
        f"a code smsportal does not know. The provider said: {words}"
    )
    try:
        campaign_pause(campaign=campaign, user=None, reason=reason[:255])
    except Exception:  # already paused or cancelled by someone
        log.info("campaign %s not paused: state changed", campaign.pk)
    return True


def _updates_for(chunk: list[Message], results) -> list[Update]:
    by_ref = {r.ref: r for r in results}
    updates = []
    for m in chunk:
        r = by_ref.get(m.ref)
        if r is None:
            updates.append(
                Update(
                    m.id,
                    Status.UNKNOWN,
                    kind=MessageEvent.Kind.SUBMIT,
                    error_description="The provider's answer did not mention this message.",
                )
            )
            continue
        updates.append(
            Update(
                m.id,
                r.status,
                kind=MessageEvent.Kind.SUBMIT,
                provider_message_id=r.provider_message_id,
                error_code=r.error_code,
                error_description=r.error_description,
                cost=r.cost,
                currency=r.currency,
                segments=r.segments,
                payload=r.raw,
            )
        )
    return updates


def release(
    messages: list[Message],
    *,
    not_before=None,
    error: ProviderError | None = None,
    count_attempt: bool = False,
) -> int:
    """Claimed messages that were not sent go back to pending."""
    if not messages:
        return 0
    fields = {
        "status": Status.PENDING,
        "submitted_at": None,
        "not_before": not_before,
        "claim_token": None,
    }
    if count_attempt:
        fields["attempts"] = F("attempts") + 1
    if error is not None:
        fields.update(error_code=error.code[:64], error_description=error.message[:500])
    with transaction.atomic():
        ids = list(
            Message.objects.select_for_update()
            .filter(id__in=[m.id for m in messages], status=Status.SENDING)
            .values_list("id", flat=True)
        )
        moved = [m for m in messages if m.id in set(ids)]
        Message.objects.filter(id__in=ids).update(**fields)
        deltas = Deltas()
        deltas.move_each(moved, Status.SENDING, Status.PENDING)
        deltas.save()
        if error is not None:
            MessageEvent.objects.bulk_create(
                MessageEvent(
                    message_id=m.id,
                    account_id=m.account_id,
                    kind=MessageEvent.Kind.SUBMIT,
                    status=Status.PENDING,
                    applied=False,
                    payload={"error": str(error), "retry_at": str(not_before or "")},
                )
                for m in moved
            )
    return len(moved)


def _request_failed(campaign: Campaign, account, chunk: list[Message], error: ProviderError):
    """Record a failed request. Returns True when sending may go on, else the
    time the next request may be tried, or None when the campaign stopped
    (paused, or moved to its fallback account)."""
    if error.maybe_sent:
        # The provider may have the messages: park them for reconciliation.
        apply_updates(
            [
                Update(
                    m.id,
                    Status.UNKNOWN,
                    kind=MessageEvent.Kind.SUBMIT,
                    error_code=error.code,
                    error_description=error.message,
                    payload=error.raw,
                )
                for m in chunk
            ]
        )
        return True
    # Nothing was sent: back to pending, after a backoff.
    with transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk).update(
            consecutive_failures=F("consecutive_failures") + 1
        )
        failures = Campaign.objects.values_list("consecutive_failures", flat=True).get(
            pk=campaign.pk
        )
    delay = error.retry_after if error.retry_after is not None else min(300, 2**failures)
    retry_at = timezone.now() + timedelta(seconds=delay)
    release(chunk, not_before=retry_at, error=error, count_attempt=True)
    if not (error.permanent or failures >= settings.DISPATCH_MAX_FAILURES):
        return retry_at
    if campaign_failover(campaign=campaign, account=account, reason=error.message):
        return None
    reason = f"Paused: {error.message}"
    if not error.permanent:
        reason = f"Paused after {failures} failed attempts in a row: {error.message}"
    try:
        campaign_pause(campaign=campaign, user=None, reason=reason)
    except Exception:  # already paused or cancelled by someone
        log.info("campaign %s not paused: state changed", campaign.pk)
    return None


def dispatch(campaign_id: int, *, time_budget: float | None = None) -> int:
    """Send a campaign's due messages for up to ``time_budget`` seconds.
    Returns how many messages were submitted; safe to run in many workers."""
    # Replies are sent through dispatch, and reports may bring replies.
    from .reports import apply_waiting_webhooks

    deadline = time.monotonic() + (time_budget or settings.DISPATCH_TIME_BUDGET)
    campaign = Campaign.objects.select_related("account", "sender", "dlt_template", "window").get(
        pk=campaign_id
    )
    if campaign.state != State.RUNNING and not _hands_over(campaign):
        return 0
    if campaign.provider_list_ids:
        # Its recipients are the provider's: one request sends it all.
        send_to_provider_lists(campaign.pk)
        return 0
    hold_outside_window(campaign)
    hold_in_quiet_hours(campaign)
    caps = campaign.account.backend_class.capabilities
    # Claim no more than the account can send in about two seconds, so a
    # claimed message never waits long on the throughput limit.
    batch = min(
        max(caps.max_recipients_per_request, settings.DISPATCH_BATCH_SIZE),
        max(1, 2 * campaign.account.throughput),
    )
    submitted = 0
    # Each pass walks the queue once; what goes back to pending behind it
    # (a retry, a recovered message) is for the next pass.
    after = 0
    widths: dict[int, int] = {}
    while time.monotonic() < deadline:
        state = Campaign.objects.filter(pk=campaign_id).values_list("state", flat=True).first()
        if state not in campaign.sending_states:  # paused or cancelled: stop at once
            break
        campaign.consecutive_failures = Campaign.objects.filter(pk=campaign_id).values_list(
            "consecutive_failures", flat=True
        )[0]
        messages = claim(campaign, batch, after=after)
        if not messages:
            break
        after = messages[-1].id
        submit_messages(campaign, messages, widths=widths)
        submitted += len(messages)
        # Delivery reports the webhook stored meanwhile (the applier's own
        # run may find no free worker while campaigns are being sent).
        apply_waiting_webhooks()
    campaign_complete_if_done(campaign_id)
    return submitted


def recover_stuck(*, older_than: timedelta | None = None, limit: int = 5000) -> int:
    """Reconcile messages nobody is sure about: left in "sending" by a dead
    worker, or "unknown" after an unclear provider answer.

    Where the backend can look messages up by our reference, what the
    provider has takes its status, and what it does not have goes back to
    pending (it never left, so sending it is not a duplicate). Where it
    cannot, they become (or stay) unknown for a person to review. Never
    resent blindly. Returns how many messages were settled."""
    if older_than is None:
        # Longer than any request may take, so a live worker is never raced.
        older_than = timedelta(seconds=settings.DISPATCH_STUCK_AFTER)
    cutoff = timezone.now() - older_than
    unsure = Message.objects.filter(
        Q(status=Status.SENDING) | Q(status=Status.UNKNOWN, done_at__isnull=True),
        submitted_at__lt=cutoff,
    ).exclude(is_test=True)
    by_account: dict[int, list[Message]] = defaultdict(list)
    for m in unsure.order_by("id")[:limit]:
        by_account[m.account_id].append(m)
    settled = 0
    for account_id, messages in by_account.items():
        backend = ProviderAccount.objects.get(pk=account_id).backend()
        try:
            found = {r.ref: r for r in backend.find_by_ref([m.ref for m in messages])}
        except NotImplementedError:
            found = None
        except ProviderError as error:
            log.warning("recovery lookup failed, will try again: %s", error)
            continue
        updates, absent = [], []
        for m in messages:
            report = found.get(m.ref) if found is not None else None
            if report is not None:
                updates.append(
                    Update(
                        m.id,
                        report.status,
                        kind=MessageEvent.Kind.RECOVERY,
                        provider_message_id=report.provider_message_id,
                        error_code=report.error_code,
                        error_description=report.error_description,
                        cost=report.cost,
                        currency=report.currency,
                        payload=report.raw,
                    )
                )
            elif found is not None:
                absent.append(m)
            elif m.status == Status.SENDING:
                updates.append(
                    Update(
                        m.id,
                        Status.UNKNOWN,
                        kind=MessageEvent.Kind.RECOVERY,
                        error_description="A worker stopped while sending and this "
                        "provider cannot be asked; not resent: check before sending again.",
                    )
                )
        settled += apply_updates(updates)
        settled += requeue_absent(absent)
        # Reviewed unknowns keep their state but are not asked about again.
        Message.objects.filter(
            id__in=[m.id for m in messages if found is None and m.status == Status.UNKNOWN]
        ).update(done_at=timezone.now())
    return settled


def requeue_absent(messages: list[Message]) -> int:
    """Messages the provider confirmed it never received go back to pending."""
    if not messages:
        return 0
    with transaction.atomic():
        rows = list(
            Message.objects.select_for_update().filter(
                id__in=[m.id for m in messages], status__in=[Status.SENDING, Status.UNKNOWN]
            )
        )
        Message.objects.filter(id__in=[m.id for m in rows]).update(
            status=Status.PENDING, submitted_at=None, not_before=None, claim_token=None
        )
        deltas = Deltas()
        for m in rows:
            deltas.move(m, m.status, Status.PENDING)
        deltas.save()
        MessageEvent.objects.bulk_create(
            MessageEvent(
                message_id=m.id,
                account_id=m.account_id,
                kind=MessageEvent.Kind.RECOVERY,
                status=Status.PENDING,
                payload={"note": "The provider has no such message: queued again."},
            )
            for m in rows
        )
    return len(rows)


def send_to_provider_lists(campaign_id: int) -> bool:
    """Send a campaign whose recipients are the provider's own contact lists:
    one request, never twice without a person saying so. The campaign is
    completed once the provider took it; its figures then come from the
    provider's campaign view (refresh_provider_view)."""
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update(of=("self",))
            .select_related("account", "sender", "dlt_template")
            .get(pk=campaign_id)
        )
        if campaign.provider_sent_at or campaign.state not in (State.RUNNING, State.SCHEDULED):
            return False
        campaign.provider_sent_at = timezone.now()
        campaign.save(update_fields=["provider_sent_at", "updated_at"])
    backend = campaign.account.backend()
    try:
        answer = backend.send_to_provider_lists(
            campaign.provider_list_ids,
            compose.render_for(campaign, {}),
            campaign.sender.value,
            send_options(campaign),
        )
    except ProviderError as error:
        reason = f"Paused: {error.message}"
        if error.maybe_sent:
            reason += (
                " Whether the provider took the campaign is unclear: look in its portal; "
                "resuming sends it again."
            )
        else:
            Campaign.objects.filter(pk=campaign.pk).update(provider_sent_at=None)
        campaign_pause(campaign=campaign, user=None, reason=reason)
        return False
    now = timezone.now()
    uid = str(answer.get("uid") or "")[:100]
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        campaign.provider_campaign_uid = uid
        campaign.provider_view = {"answer": answer}
        campaign.provider_view_at = now
        campaign.state = State.COMPLETED
        campaign.completed_at = now
        campaign.save(
            update_fields=[
                "provider_campaign_uid",
                "provider_view",
                "provider_view_at",
                "state",
                "completed_at",
                "updated_at",
            ]
        )
        audit.record(
            "campaign.provider_lists_sent",
            obj=campaign,
            lists=campaign.provider_list_ids,
            provider_campaign=uid,
        )
    return True
