"""Campaigns run through the engine against a fake provider on loopback.

What every end-to-end provider test needs: an account pointed at the fake,
an approved sender, a contact list, a campaign launched the way a user
launches one, the account's webhook path, and the checks that the messages,
their costs and the campaign counters agree.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone

from campaigns import dispatch, services
from campaigns.models import Approval, Campaign, DLTTemplate, Message, MessageEvent, SenderID
from campaigns.selectors import campaign_counts
from contacts import services as contact_services
from contacts.models import ContactList
from providers.models import ProviderAccount, RateCardEntry
from providers.status import SUBMITTED, Status

# Prices per segment on every test account's rate card.
RATES = {"DE": Decimal("0.075"), "FR": Decimal("0.068"), "US": Decimal("0.0079")}


def make_account(
    kind: str,
    base_url: str,
    *,
    credentials: dict[str, str],
    options: dict[str, Any] | None = None,
    currency: str = "EUR",
    throughput: int = 1000,
) -> ProviderAccount:
    account = ProviderAccount(
        name=f"{kind} on loopback",
        kind=kind,
        base_url=base_url,
        options=options or {},
        currency=currency,
        throughput=throughput,
        default_price=Decimal("0.05"),
    )
    account.credentials = credentials
    account.save()
    for country, price in RATES.items():
        RateCardEntry.objects.create(account=account, country=country, price=price)
    return account


def make_sender(value: str, account: ProviderAccount) -> SenderID:
    sender = SenderID(value=value, status=Approval.APPROVED)
    sender.clean()
    sender.save()
    sender.accounts.add(account)
    return sender


def make_template(sender: SenderID, content: str) -> DLTTemplate:
    """An approved India DLT content template registered with ``sender``."""
    return DLTTemplate.objects.create(
        name="Offers",
        template_id="1107161234567890123",
        principal_entity_id="1101456789012345678",
        header=sender,
        category=DLTTemplate.Category.PROMOTIONAL,
        content=content,
        status=Approval.APPROVED,
    )


def make_list(name: str, people: dict[str, str]) -> ContactList:
    """A contact list of ``{phone: first name}``."""
    contact_list = contact_services.list_create(name=name)
    result = contact_services.list_add_contacts(
        contact_list=contact_list,
        rows=[{"phone": phone, "first_name": first} for phone, first in people.items()],
    )
    assert not result.errors, result.errors
    return contact_list


def make_campaign(
    account: ProviderAccount,
    sender: SenderID,
    contact_list: ContactList,
    text: str,
    **fields: Any,
) -> Campaign:
    campaign = Campaign.objects.create(
        name=f"Campaign through {account.kind}",
        text=text,
        sender=sender,
        account=account,
        **fields,
    )
    campaign.lists.add(contact_list)
    return campaign


def launch(campaign: Campaign, user) -> Campaign:
    """Launch as a user does; Celery runs eagerly, so materialising and the
    first dispatch have happened when this returns."""
    services.campaign_launch(campaign=campaign, user=user)
    campaign.refresh_from_db()
    return campaign


def hook_path(account: ProviderAccount, event: str = "") -> str:
    """The account's real webhook endpoint, as the test client reaches it."""
    url = account.webhook_url(event)
    assert url.startswith(settings.PUBLIC_BASE_URL)
    return url.removeprefix(settings.PUBLIC_BASE_URL)


def statuses(campaign: Campaign) -> dict[str, str]:
    return dict(
        Message.objects.filter(campaign=campaign, is_test=False).values_list("phone", "status")
    )


def by_phone(campaign: Campaign) -> dict[str, Message]:
    return {m.phone: m for m in Message.objects.filter(campaign=campaign, is_test=False)}


def age_submissions(campaign: Campaign, by: dt.timedelta) -> None:
    """Move submission times back: status polling leaves fresh messages alone
    (the provider needs a moment, and an early answer can mislead)."""
    for message in Message.objects.filter(campaign=campaign, submitted_at__isnull=False):
        Message.objects.filter(pk=message.pk).update(submitted_at=message.submitted_at - by)


def retry_now(campaign: Campaign) -> None:
    """End the backoff of messages waiting to be retried, as the passing of
    time (and the periodic dispatch) would."""
    Message.objects.filter(campaign=campaign, status=Status.PENDING).update(
        not_before=timezone.now() - dt.timedelta(seconds=1)
    )


def dispatch_again(campaign: Campaign) -> Campaign:
    retry_now(campaign)
    dispatch.dispatch(campaign.pk)
    campaign.refresh_from_db()
    return campaign


def assert_counters_match(campaign: Campaign) -> None:
    """The campaign's counters say what its messages say."""
    counts = campaign_counts([campaign.pk])[campaign.pk]
    messages = list(Message.objects.filter(campaign=campaign, is_test=False))
    assert counts.by_status == dict(Counter(m.status for m in messages))
    assert counts.total == campaign.audience_count == len(messages)
    assert counts.actual_cost == sum((m.actual_cost or Decimal(0) for m in messages), Decimal(0))
    assert counts.estimated_cost == sum((m.estimated_cost for m in messages), Decimal(0))
    assert counts.segments == sum(m.segments for m in messages)


def assert_failed_visibly(campaign: Campaign, *, attempts: int, says: str, tried: int = 0) -> None:
    """Failed provider calls left every message pending, nothing marked as
    sent, and the error on each message that was tried (``tried`` of them,
    every one unless given), with a history entry per attempt."""
    messages = list(Message.objects.filter(campaign=campaign, is_test=False))
    assert messages
    for message in messages:
        assert message.status == Status.PENDING
        assert message.provider_message_id == ""
        assert message.sent_at is None and message.submitted_at is None
        assert message.actual_cost is None
    failed = [m for m in messages if m.attempts]
    assert len(failed) == (tried or len(messages))
    for message in failed:
        assert message.attempts == attempts
        assert says in message.error_description
    assert not Message.objects.filter(campaign=campaign, status__in=sorted(SUBMITTED)).exists()
    failed_calls = MessageEvent.objects.filter(
        message__campaign=campaign, kind=MessageEvent.Kind.SUBMIT, applied=False
    )
    assert failed_calls.count() == attempts * len(failed)
    counts = campaign_counts([campaign.pk])[campaign.pk]
    assert counts.submitted == 0
    assert counts.get(Status.PENDING) == len(messages)


def max_failures() -> int:
    return settings.DISPATCH_MAX_FAILURES
