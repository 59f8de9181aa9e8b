"""Writes for campaigns, senders and templates: every state change of a
campaign happens here, and is audit-logged with its user."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from contacts.models import Consent, Contact, Suppression
from providers.models import RateCardEntry
from providers.status import Status
from smsportal import audit
from smsportal.celery import enqueue
from smsportal.phones import normalise

from . import compliance, compose
from .delivery import Deltas, bulk_status_change, grouped
from .dispatch import submit_messages
from .lifecycle import CampaignError as CampaignError
from .lifecycle import _transition
from .lifecycle import campaign_complete_if_done as campaign_complete_if_done
from .lifecycle import campaign_failover as campaign_failover
from .lifecycle import campaign_pause as campaign_pause
from .lifecycle import fallback_problems as fallback_problems
from .models import (
    Approval,
    Campaign,
    CampaignCounter,
    DLTTemplate,
    Message,
    SenderID,
    Variant,
)

State = Campaign.State
log = logging.getLogger(__name__)


def campaign_launch(*, campaign: Campaign, user) -> Campaign:
    """Check, then hand the campaign to the workers: scheduled when its time
    is in the future, running otherwise. The audience is materialised by the
    worker (``materialise``), not in the request."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        _transition(campaign, (State.DRAFT,), "launched")
        result = compose.check(campaign)
        if not result.ok:
            raise CampaignError(" ".join(result.errors))
        now = timezone.now()
        campaign.state = (
            State.SCHEDULED
            if campaign.scheduled_at and campaign.scheduled_at > now
            else State.RUNNING
        )
        campaign.launched_at = now
        campaign.pause_reason = ""
        # What the launch confirmation said it would cost, kept beside the
        # actual cost (the provider's lists are counted by the provider).
        campaign.launch_estimate = (
            None
            if campaign.provider_list_ids
            else compose.preview(campaign, samples=0).estimated_cost
        )
        campaign.save(
            update_fields=["state", "launched_at", "pause_reason", "launch_estimate", "updated_at"]
        )
        audit.record(
            "campaign.schedule" if campaign.state == State.SCHEDULED else "campaign.launch",
            actor=user,
            obj=campaign,
            scheduled_at=campaign.scheduled_at.isoformat() if campaign.scheduled_at else None,
        )
        enqueue("campaigns.tasks.materialise_campaign", campaign.pk)
    return campaign


def materialise(campaign_id: int) -> int:
    """Turn the audience into message rows in one INSERT … SELECT.

    Each number once (contacts are unique by number, and the (campaign,
    phone) constraint holds it). Suppressed numbers, contacts without
    consent (when the campaign asks for it), contacts over the frequency cap,
    Indian numbers without a DLT template and countries the sender is not
    valid for become skipped rows with their reason, in that order, so
    audience = sent + skipped + failed. Each message keeps the contact's own
    time zone (its "time_zone" attribute) when that is a known zone, else
    the number's. Texts without placeholders are priced here, set-based;
    personalised ones when a worker renders them. An A/B test writes only
    its test share here, each recipient with a variant (campaigns.abtest),
    the rest when its winner is chosen. Idempotent: a second run does
    nothing."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.materialised_at or campaign.state in (State.DRAFT, State.CANCELLED):
            return 0
        from . import links

        # Rendered (and priced) per recipient by the worker: placeholders,
        # and tracked links (each recipient's own short links).
        personalised = bool(compose.placeholders(campaign.text)) or links.uses_short_links(campaign)
        plain_text = compose.render_for(campaign, {})
        info = compose.segments.count(plain_text)
        if not campaign.lists.exists() and not campaign.segments.exists():
            campaign.materialised_at = timezone.now()
            campaign.save(update_fields=["materialised_at", "updated_at"])
            return 0
        now = timezone.now()
        from . import abtest

        variants = abtest.test_variants(campaign)
        if variants:
            # An A/B test: its test share now, each recipient with a variant;
            # the rest once the winner is chosen (abtest.send_winner).
            inserted = abtest.materialise_test(campaign, variants, now=now, encoding=info.encoding)
        else:
            inserted = insert_audience(
                campaign,
                now=now,
                text="" if personalised else plain_text,
                encoding=info.encoding,
                segments=0 if personalised else info.segments,
            )
        deltas = Deltas()
        for g in grouped(campaign.messages.filter(is_test=False)):
            deltas.add(g, g.status, count=g.count, estimated=g.estimated_cost, segments=g.segments)
        deltas.save()
        campaign.audience_count = inserted
        campaign.materialised_at = timezone.now()
        campaign.save(
            update_fields=["audience_count", "materialised_at", "ab_test_ends_at", "updated_at"]
        )
    return inserted


def insert_audience(
    campaign: Campaign,
    *,
    now,
    text: str,
    encoding: str,
    segments: int,
    variant: tuple[str, list] = ("NULL", []),
    join: tuple[str, list] = ("", []),
    where: tuple[str, list] | None = None,
) -> int:
    """The one INSERT … SELECT that turns contacts (``c``) into the
    campaign's message rows, with the skip reasons, zones and prices
    ``materialise`` describes; returns how many rows it wrote. By default
    the whole audience with ``text`` (empty: rendered per recipient when
    sent). An A/B test (campaigns.abtest) writes part of it: ``variant``
    (the SQL of each row's variant id, and its params), ``join`` (a JOIN
    after the others) and ``where`` (which contacts) say which part."""
    account = campaign.account
    skip_sql = ["WHEN s.id IS NOT NULL THEN 'suppressed'"]
    skip_params: list = []
    if campaign.consent_required:
        skip_sql.append("WHEN c.consent <> %s THEN 'no_consent'")
        skip_params.append(Consent.OPTED_IN)
    cap = compliance.frequency_cap()
    cap_join, cap_params = "", []
    if cap:
        # One grouped pass over the cap's days of messages, joined by number.
        cap_sql, cap_params = compliance.capped_phones(cap, now).query.sql_with_params()
        cap_join = f"LEFT JOIN ({cap_sql}) f ON f.phone = c.phone"
        skip_sql.append("WHEN f.phone IS NOT NULL THEN 'frequency_cap'")
    if campaign.dlt_template_id is None:
        skip_sql.append("WHEN c.country = %s THEN 'outside_dlt'")
        skip_params.append(compose.INDIA)
    if campaign.sender.countries:
        marks = ", ".join(["%s"] * len(campaign.sender.countries))
        skip_sql.append(f"WHEN c.country NOT IN ({marks}) THEN 'sender_country'")
        skip_params.extend(campaign.sender.countries)
    skip = f"CASE {' '.join(skip_sql)} ELSE '' END"
    m, c = Message._meta.db_table, Contact._meta.db_table
    s, r = Suppression._meta.db_table, RateCardEntry._meta.db_table
    if where is None:
        # The audience as compose defines it (lists, segments, exclusions),
        # as a subquery of the one INSERT … SELECT.
        audience_sql, audience_params = (
            compose.audience(campaign).values("id").query.sql_with_params()
        )
        where = (f"c.id IN ({audience_sql})", list(audience_params))
    (variant_sql, variant_params), (join_sql, join_params) = variant, join
    where_sql, where_params = where
    own_value, own_zone, own_params = _own_zone_sql("c")
    # Table names come from model metadata and values are parameters.
    sql = f"""
        INSERT INTO {m} (campaign_id, contact_id, is_test, phone, country, time_zone,
            zone_is_own, text, encoding, segments, account_id, provider_message_id, status,
            skip_reason, error_code, error_description, estimated_cost, currency, attempts,
            not_before, created_at, variant_id)
        SELECT %s, c.id, %s, c.phone, c.country,
            CASE WHEN {own_zone} THEN {own_value} ELSE c.time_zone END,
            CASE WHEN {own_zone} THEN %s ELSE %s END,
            %s, %s, %s, %s, '',
            CASE WHEN ({skip}) = '' THEN %s ELSE %s END,
            {skip}, '', '',
            CASE WHEN ({skip}) = '' THEN COALESCE(r.price, %s) * %s ELSE 0 END,
            %s, 0, %s, %s, {variant_sql}
        FROM {c} c
        LEFT JOIN {s} s ON s.phone = c.phone
        {cap_join}
        LEFT JOIN {r} r ON r.account_id = %s AND r.country = c.country
        {join_sql}
        WHERE {where_sql}
    """
    params = [
        campaign.pk,
        False,
        *own_params,
        *own_params,
        True,
        False,
        text,
        encoding,
        segments,
        account.pk,
        *skip_params,
        Status.PENDING,
        Status.SKIPPED,
        *skip_params,
        *skip_params,
        account.default_price,
        segments,
        account.currency,
        # Raw SQL: as the ORM would store them (SQLite keeps text).
        connection.ops.adapt_datetimefield_value(campaign.scheduled_at),
        connection.ops.adapt_datetimefield_value(now),
        *variant_params,
        *cap_params,
        account.pk,
        *join_params,
        *where_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _own_zone_sql(alias: str) -> tuple[str, str, list]:
    """The contact's (``alias``) own zone as materialise reads it, the way
    compose.recipient_zones does: its "time_zone" attribute, when that names
    a zone this server knows. (SQL of the value, SQL true when it is one,
    the params of the second.)"""
    zones = sorted(compliance.known_zones())
    key = compliance.OWN_ZONE_ATTRIBUTE
    if connection.vendor == "postgresql":
        value = f"({alias}.attributes ->> '{key}')"
        return value, f"COALESCE({value} = ANY(%s), FALSE)", [zones]
    value = f"json_extract({alias}.attributes, '$.{key}')"
    marks = ", ".join(["%s"] * len(zones))
    return value, f"COALESCE({value} IN ({marks}), FALSE)", zones


def campaign_resume(*, campaign: Campaign, user) -> Campaign:
    """Resume sending what is still pending. Messages already submitted (or
    unclear) stay as they are: nothing is sent twice."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        _transition(campaign, (State.PAUSED,), "resumed")
        now = timezone.now()
        campaign.state = (
            State.SCHEDULED
            if campaign.scheduled_at and campaign.scheduled_at > now
            else State.RUNNING
        )
        campaign.pause_reason = ""
        campaign.consecutive_failures = 0
        # A send to the provider's lists whose outcome was unclear is sent
        # again only because a person resumes it (the pause said so).
        if not campaign.provider_campaign_uid:
            campaign.provider_sent_at = None
        campaign.save(
            update_fields=[
                "state",
                "pause_reason",
                "consecutive_failures",
                "provider_sent_at",
                "updated_at",
            ]
        )
        # Backoffs from before the pause are over; windows are held again at
        # the next dispatch, and a scheduled campaign waits for its time.
        campaign.messages.filter(status=Status.PENDING).update(not_before=None)
        audit.record("campaign.resume", actor=user, obj=campaign)
        enqueue("campaigns.tasks.dispatch_campaign", campaign.pk)
    return campaign


def campaign_cancel(*, campaign: Campaign, user) -> int:
    """Cancel what has not gone yet; returns how many messages were cancelled.
    Messages scheduled at the provider are cancelled there where the backend
    can."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        _transition(
            campaign, (State.DRAFT, State.SCHEDULED, State.RUNNING, State.PAUSED), "cancelled"
        )
        campaign.state = State.CANCELLED
        campaign.completed_at = timezone.now()
        campaign.save(update_fields=["state", "completed_at", "updated_at"])
        audit.record("campaign.cancel", actor=user, obj=campaign)
    cancelled = bulk_status_change(
        campaign.messages.filter(status=Status.PENDING),
        Status.CANCELLED,
        reason="Campaign cancelled",
    )
    if campaign.account.capabilities.cancel:
        enqueue("campaigns.tasks.cancel_at_provider", campaign.pk, on_commit=False)
    return cancelled


def _held_at_provider(campaign: Campaign, *, only_suppressed: bool = False):
    """The campaign's messages a provider holds for a later time (of numbers
    suppressed now, with ``only_suppressed``)."""
    held = Message.objects.filter(
        campaign=campaign, status=Status.ACCEPTED, is_test=False, not_before__gt=timezone.now()
    ).exclude(provider_message_id="")
    if only_suppressed:
        held = held.filter(phone__in=Suppression.objects.values("phone"))
    return held


def cancel_at_provider(campaign: Campaign, *, only_suppressed: bool = False) -> int:
    """Ask the provider to cancel the messages it holds for a cancelled
    campaign (or, with ``only_suppressed``, those of numbers that opted out
    since); only those it confirms are recorded as cancelled. The rest stay
    accepted, and the campaign page counts them as still going out.
    Returns how many were cancelled."""
    from providers import services as provider_services
    from providers.base import ProviderError, Unavailable

    held = list(
        _held_at_provider(campaign, only_suppressed=only_suppressed).values_list(
            "provider_message_id", flat=True
        )
    )
    if not held:
        return 0
    reason = ""
    try:
        confirmed = campaign.account.backend().cancel(held)
    except ProviderError as error:
        if isinstance(error, Unavailable):
            provider_services.switch_off(campaign.account, error)
        confirmed, reason = getattr(error, "cancelled", []), error.message
    cancelled = cancelled_at_provider(campaign, confirmed)
    audit.record(
        "campaign.cancel_opted_out" if only_suppressed else "campaign.cancel_at_provider",
        obj=campaign,
        asked=len(held),
        cancelled=cancelled,
        still_going_out=len(held) - cancelled,
        reason=reason or None,
    )
    return cancelled


def cancelled_at_provider(campaign: Campaign, provider_ids: list[str]) -> int:
    """Record the messages the provider confirmed it cancelled."""
    from .delivery import Update, apply_updates

    ids = (
        Message.objects.filter(
            campaign=campaign, account=campaign.account, provider_message_id__in=provider_ids
        )
        .exclude(provider_message_id="")
        .values_list("id", flat=True)
    )
    return apply_updates(
        [
            Update(i, Status.CANCELLED, kind="note", error_description="Cancelled at the provider")
            for i in ids
        ]
    )


def cancel_opted_out_at_provider() -> int:
    """Messages a provider holds for a later time (a campaign that handed
    its schedule over) whose numbers are suppressed now: cancelled there,
    where the account can cancel. Only what the provider confirms is
    recorded as cancelled; returns how many."""
    cancelled = 0
    # Only a scheduled campaign's messages are still held: a running one's
    # time has come and the provider has sent them.
    held_by = Campaign.objects.filter(schedule_at_provider=True, state=State.SCHEDULED)
    for campaign in held_by.select_related("account"):
        if not campaign.account.capabilities.cancel:
            held = _held_at_provider(campaign, only_suppressed=True).count()
            if held:
                audit.record("campaign.opted_out_held", obj=campaign, count=held)
            continue
        cancelled += cancel_at_provider(campaign, only_suppressed=True)
    return cancelled


def start_due_campaigns() -> list[int]:
    """Scheduled campaigns whose time has come start running."""
    due = list(
        Campaign.objects.filter(
            state=State.SCHEDULED, scheduled_at__lte=timezone.now()
        ).values_list("id", flat=True)
    )
    # A change of state is a change of the campaign: updated_at moves with it.
    Campaign.objects.filter(id__in=due, state=State.SCHEDULED).update(
        state=State.RUNNING, updated_at=timezone.now()
    )
    return due


def record_quiet_hours_lift(*, campaign: Campaign, user, before: tuple[bool, str] | None) -> None:
    """Audit-log an Admin lifting a campaign's quiet hours (with the reason),
    changing the reason, or restoring them; ``before`` is (lifted, reason)
    as stored before the edit (None for a new campaign)."""
    was_lifted, was_reason = before or (False, "")
    now = (campaign.quiet_hours_lifted, campaign.quiet_hours_reason)
    if now == (was_lifted, was_reason):
        return
    if campaign.quiet_hours_lifted:
        audit.record(
            "campaign.quiet_hours_lifted",
            actor=user,
            obj=campaign,
            reason=campaign.quiet_hours_reason,
        )
    elif was_lifted:
        audit.record("campaign.quiet_hours_restored", actor=user, obj=campaign)


def test_send(
    *, campaign: Campaign, phone: str, user, default_region: str = "", variant_label: str = ""
) -> Message:
    """Send the campaign's message (or, in an A/B test, the text of the
    variant labelled ``variant_label``) to one number now, logged like any
    message (marked as a test, not part of the audience)."""

    from . import links

    number = normalise(phone, default_region)
    problems = compose.sender_problems(campaign)
    if problems:
        raise CampaignError(" ".join(problems))
    contact = Contact.objects.filter(phone=number.e164).first()
    row = {"phone": number.e164}
    if contact:
        row.update(
            first_name=contact.first_name,
            last_name=contact.last_name,
            attributes=contact.attributes,
        )
    variant = None
    if variant_label:
        variant = campaign.variants.filter(label=variant_label).first()
        if variant is None:
            raise CampaignError(f"The campaign has no variant {variant_label}.")
    text = compose.render(variant.text if variant else campaign.text, row)
    if campaign.keep_gsm7:
        text = compose.segments.to_gsm7(text)
    template = campaign.dlt_template
    to_dlt = template is not None and number.country == compose.INDIA
    if to_dlt and not compose.dlt_matches(template.content, text):
        raise CampaignError("The message does not match the DLT template.")
    with transaction.atomic():
        message = Message.objects.create(
            campaign=campaign,
            contact=contact,
            is_test=True,
            variant=variant,
            phone=number.e164,
            country=number.country,
            time_zone=number.time_zone,
            text=text,
            account=campaign.account,
            currency=campaign.account.currency,
            status=Status.SENDING,
            submitted_at=timezone.now(),
            attempts=1,
        )
        if links.uses_short_links(campaign):
            # Real short links, as a recipient's: the test's clicks count
            # on the test message, never on the campaign's audience.
            pattern = compose.dlt_pattern(template.content) if to_dlt else None
            [message.text] = links.shorten(campaign.pk, [(message.pk, text, pattern)])
        info = compose.segments.count(message.text)
        message.encoding, message.segments = info.encoding, info.segments
        message.estimated_cost = info.segments * campaign.account.price_for(number.country)
        message.save(update_fields=["text", "encoding", "segments", "estimated_cost"])
        deltas = Deltas()
        deltas.add(
            message,
            Status.SENDING,
            count=1,
            estimated=message.estimated_cost,
            segments=info.segments,
        )
        deltas.save()
        audit.record("campaign.test_send", actor=user, obj=campaign, phone=number.e164)
    submit_messages(campaign, [message], live=False)
    message.refresh_from_db()
    return message


def sender_decide(*, sender: SenderID, user, approve: bool, note: str = "") -> SenderID:
    sender.status = Approval.APPROVED if approve else Approval.REJECTED
    sender.decided_by = user
    sender.decided_at = timezone.now()
    if note:
        sender.note = note
    sender.save()
    audit.record("sender.approve" if approve else "sender.reject", actor=user, obj=sender)
    return sender


def template_decide(*, template: DLTTemplate, user, approve: bool) -> DLTTemplate:
    template.status = Approval.APPROVED if approve else Approval.REJECTED
    template.save(update_fields=["status"])
    audit.record("dlt.approve" if approve else "dlt.reject", actor=user, obj=template)
    return template


# How finely a campaign's counters keep time, counted from its launch: by
# the minute at first, by the hour for its first two days (its charts go by
# the minute or the hour while it spans less), by the day after.
MINUTES_KEPT = timedelta(hours=2)
HOURS_KEPT = timedelta(days=2)


def counter_bucket(minute, launched_at):
    """The time a counter row of ``minute`` is kept under once squashed."""
    if minute is None:
        return None
    if launched_at is None or minute < launched_at.replace(second=0, microsecond=0):
        # Test sends before launch, and campaigns never launched.
        return minute.replace(hour=0, minute=0)
    if minute < launched_at + MINUTES_KEPT:
        return minute
    if minute < launched_at + HOURS_KEPT:
        return minute.replace(minute=0)
    return minute.replace(hour=0, minute=0)


def squash_counters() -> int:
    """Fold each campaign's counter deltas into one row per time bucket
    (see ``counter_bucket``), account, country and status."""
    squashed = 0
    campaigns = (
        CampaignCounter.objects.filter(is_squashed=False)
        .values("campaign_id")
        .annotate(n=Count("id"))
        .filter(n__gt=20)
        .values_list("campaign_id", flat=True)
    )
    keys = ("day", "minute", "account_id", "country", "status")
    for campaign_id in list(campaigns):
        with transaction.atomic():
            rows = list(CampaignCounter.objects.select_for_update().filter(campaign_id=campaign_id))
            launched_at = (
                Campaign.objects.filter(pk=campaign_id)
                .values_list("launched_at", flat=True)
                .first()
            )
            totals: dict[tuple, list] = defaultdict(lambda: [0, Decimal(0), Decimal(0), 0])
            for row in rows:
                row.minute = counter_bucket(row.minute, launched_at)
                t = totals[tuple(getattr(row, k) for k in keys)]
                t[0] += row.count
                t[1] += row.estimated_cost
                t[2] += row.actual_cost
                t[3] += row.segments
            CampaignCounter.objects.filter(id__in=[r.id for r in rows]).delete()
            CampaignCounter.objects.bulk_create(
                CampaignCounter(
                    campaign_id=campaign_id,
                    **dict(zip(keys, key, strict=True)),
                    count=t[0],
                    estimated_cost=t[1],
                    actual_cost=t[2],
                    segments=t[3],
                    is_squashed=True,
                )
                for key, t in totals.items()
                if any(t)
            )
            squashed += len(rows)
    return squashed


def validate_schedule(scheduled_at) -> None:
    if scheduled_at and scheduled_at <= timezone.now():
        raise ValidationError("The scheduled time is in the past.")


# -- campaigns to contact lists kept at the provider ---------------------------------------


def refresh_provider_view(campaign: Campaign) -> bool:
    """Read the provider's figures for a campaign sent to its lists."""
    from providers.base import ProviderError

    if not campaign.provider_campaign_uid:
        return False
    try:
        view = campaign.account.backend().view_campaign(campaign.provider_campaign_uid)
    except ProviderError as error:
        log.warning("provider view of campaign %s failed: %s", campaign.pk, error)
        return False
    Campaign.objects.filter(pk=campaign.pk).update(
        provider_view=view, provider_view_at=timezone.now()
    )
    return True


# -- everyday actions ------------------------------------------------------------------------

# What the composer sets, which a copy takes over; the schedule, the state,
# the figures and an Admin's lifting of the quiet hours stay behind.
CLONED_FIELDS = (
    "text",
    "sender",
    "dlt_template",
    "account",
    "window",
    "provider_lists",
    "consent_required",
    "keep_gsm7",
    "flash",
    "validity_minutes",
    "transliteration",
    "language_code",
    "click_tracking",
    "track_links",
    "campaign_ref",
    "callback_data",
    # The A/B test as composed (its variants are copied too); never its
    # outcome (end, winner).
    "ab_test_share",
    "ab_wait_minutes",
    "ab_metric",
    "ab_auto_winner",
)
CLONED_RELATIONS = ("lists", "exclude_lists", "segments")


def campaign_clone(*, campaign: Campaign, user) -> Campaign:
    """A new draft with the campaign's text, sender, account, audience and
    options, to send again or to change; the original is untouched."""
    if campaign.purpose != Campaign.Purpose.MARKETING:
        raise CampaignError("Only a marketing campaign can be copied.")
    name_field = Campaign._meta.get_field("name")
    name = f"{campaign.name} (copy)"
    if len(name) > name_field.max_length:
        name = f"{campaign.name[: name_field.max_length - 8].rstrip()}… (copy)"
    with transaction.atomic():
        copy = Campaign(name=name, created_by=user, state=Campaign.State.DRAFT)
        for field in CLONED_FIELDS:
            setattr(copy, field, getattr(campaign, field))
        copy.save()
        for relation in CLONED_RELATIONS:
            getattr(copy, relation).set(getattr(campaign, relation).all())
        Variant.objects.bulk_create(
            Variant(campaign=copy, label=v.label, text=v.text) for v in campaign.variants.all()
        )
        audit.record("campaign.clone", actor=user, obj=copy, copied_from=campaign.pk)
    return copy


class WindowInUse(Exception):
    pass


def window_delete(*, window, user) -> None:
    """Delete a delivery window no campaign uses; a window in use stays
    (its campaigns' messages are timed by it), with the campaigns named."""
    users = list(window.campaigns.order_by("-id").values_list("name", flat=True)[:4])
    if users:
        total = window.campaigns.count()
        named = ", ".join(f"“{n}”" for n in users[:3])
        more = f" and {total - 3} more" if total > 3 else ""
        raise WindowInUse(
            f"“{window}” is not deleted: {total} campaign{'s' if total != 1 else ''} "
            f"use{'' if total != 1 else 's'} it ({named}{more}). Choose another window "
            "in their drafts, or keep it; a sent campaign keeps the window it went out in."
        )
    audit.record("window.delete", actor=user, obj=window)
    window.delete()


def window_save(*, form, user):
    """Save a delivery window form (new or changed), audit-logged. A changed
    window applies to the messages its campaigns have not sent yet: those
    held for a later time (the old window, quiet hours, a retry's pause) are
    timed again by the next dispatch, which holds again what the new window
    and quiet hours keep back."""
    created = form.instance.pk is None
    with transaction.atomic():
        window = form.save()
        audit.record("window.create" if created else "window.edit", actor=user, obj=window)
        if not created:
            active = list(
                window.campaigns.filter(
                    state__in=[Campaign.State.RUNNING, Campaign.State.PAUSED]
                ).values_list("pk", "state")
            )
            Message.objects.filter(
                campaign_id__in=[pk for pk, _ in active],
                status=Status.PENDING,
                is_test=False,
                not_before__gt=timezone.now(),
            ).update(not_before=timezone.now())
            for pk, state in active:
                if state == Campaign.State.RUNNING:
                    enqueue("campaigns.tasks.dispatch_campaign", pk)
    return window
