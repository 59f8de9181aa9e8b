"""A campaign's changes of state that the engine makes as well as people:
pause, failover to a fallback account, completion. The engine
(``campaigns.dispatch``) and the services both use them, so they live below
both."""

from __future__ import annotations

from django.db import models, transaction
from django.db.models import DecimalField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from providers.models import RateCardEntry
from providers.status import Status
from smsportal import audit

from . import compose
from .delivery import Deltas, grouped
from .models import Campaign, Message

State = Campaign.State


class CampaignError(Exception):
    """A campaign action that cannot be done now, with the reason to show."""


def _transition(campaign: Campaign, allowed: tuple[str, ...], action: str) -> None:
    if campaign.state not in allowed:
        raise CampaignError(
            f"A {campaign.get_state_display().lower()} campaign cannot be {action}."
        )


def campaign_pause(*, campaign: Campaign, user, reason: str = "") -> Campaign:
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        _transition(campaign, (State.RUNNING, State.SCHEDULED), "paused")
        if user is not None and campaign.held_at_provider:
            # The engine may still pause the hand-over when the provider
            # fails; a person could only believe the messages were held.
            raise CampaignError(
                "Its messages are handed to the provider, which sends them at the scheduled "
                "time: a pause would not hold them. Cancel the campaign instead."
            )
        campaign.state = State.PAUSED
        campaign.pause_reason = reason or (f"Paused by {user}" if user else "Paused")
        campaign.save(update_fields=["state", "pause_reason", "updated_at"])
        audit.record("campaign.pause", actor=user, obj=campaign, reason=campaign.pause_reason)
    return campaign


def fallback_problems(campaign: Campaign, fallback) -> list[str]:
    """Why the campaign's messages could not go through ``fallback``."""
    problems = []
    if not fallback.enabled:
        problems.append(f"{fallback} is disabled")
    sender = campaign.sender
    if sender.accounts.exists() and not sender.accounts.filter(pk=fallback.pk).exists():
        problems.append(f"the sender {sender} is not registered with {fallback}")
    problems.extend(fallback.backend_class(options=fallback.options).sender_errors(sender.value))
    needs_dlt = (
        campaign.dlt_template_id
        and campaign.messages.filter(status=Status.PENDING, country=compose.INDIA).exists()
    )
    if needs_dlt and not fallback.backend_class.capabilities.dlt:
        problems.append(f"{fallback} cannot carry DLT template fields")
    return problems


def campaign_failover(*, campaign: Campaign, account, reason: str) -> bool:
    """Move the campaign's pending messages from a failing account to its
    fallback, re-priced on the fallback's rate card. False (nothing moved)
    when there is no usable fallback."""
    fallback = account.fallback
    if fallback is None:
        return False
    problems = fallback_problems(campaign, fallback)
    if problems:
        audit.record(
            "campaign.failover_refused",
            obj=campaign,
            account=account.name,
            fallback=fallback.name,
            problems=problems,
        )
        return False
    with transaction.atomic():
        Campaign.objects.select_for_update().get(pk=campaign.pk)
        pending = campaign.messages.filter(status=Status.PENDING, account=account)
        rates = {r.country: r.price for r in fallback.rates.all()}
        deltas = Deltas()
        for g in grouped(pending):
            deltas.add(
                g, g.status, count=-g.count, estimated=-g.estimated_cost, segments=-g.segments
            )
            # The same messages, now on the fallback at its price.
            g.account_id = fallback.pk
            new_estimate = g.segments * rates.get(g.country, fallback.default_price)
            deltas.add(g, g.status, count=g.count, estimated=new_estimate, segments=g.segments)
        rate = RateCardEntry.objects.filter(account=fallback, country=OuterRef("country"))
        price = Coalesce(
            Subquery(rate.values("price")[:1]),
            Value(fallback.default_price),
            output_field=DecimalField(max_digits=10, decimal_places=5),
        )
        moved = pending.update(
            account=fallback,
            currency=fallback.currency,
            estimated_cost=models.F("segments") * price,
            not_before=None,
        )
        deltas.save()
        Campaign.objects.filter(pk=campaign.pk).update(consecutive_failures=0)
        audit.record(
            "campaign.failover",
            obj=campaign,
            account=account.name,
            fallback=fallback.name,
            moved=moved,
            reason=reason,
        )
    return True


def campaign_complete_if_done(campaign_id: int) -> bool:
    """A running campaign with nothing left to submit is completed (an A/B
    test's only once its winner went to the rest: campaigns.abtest)."""
    with transaction.atomic():
        # The rest of an A/B test is written under the campaign's lock: wait
        # for a winner being sent, so the look below sees its messages.
        list(
            Campaign.objects.select_for_update()
            .filter(pk=campaign_id, ab_test_share__isnull=False)
            .values_list("pk", flat=True)
        )
        # Unknown messages not yet reconciled may still go back to pending.
        busy = Message.objects.filter(
            Q(status__in=[Status.PENDING, Status.SENDING]) | Q(status=Status.UNKNOWN, done_at=None),
            campaign_id=campaign_id,
            is_test=False,
        )
        if busy.exists():
            return False
        now = timezone.now()
        updated = (
            Campaign.objects.filter(pk=campaign_id, state=State.RUNNING, messages__isnull=False)
            .filter(Q(ab_test_share__isnull=True) | Q(ab_winner__isnull=False))
            .update(state=State.COMPLETED, completed_at=now, updated_at=now)
        )
        if updated:
            audit.record("campaign.complete", obj=Campaign.objects.get(pk=campaign_id))
    return bool(updated)
