"""Which message a delivery report is for: its provider ID first, our own
reference (the message id) only where the provider ID matches nothing, and
only among the account's own messages. PostgreSQL finds and locks them in
one statement; the generic path (``_match``) must agree with it."""

from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from campaigns import reports
from campaigns.models import Campaign, Message, MessageEvent
from providers.base import StatusReport
from providers.models import ProviderAccount
from providers.status import Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_account(db):
    return ProviderAccount.objects.create(
        name="Other", kind="sandbox", throughput=1000, default_price=Decimal("0.05")
    )


@pytest.fixture
def messages(sandbox, other_account, sender):
    campaign = Campaign.objects.create(
        name="c", text="x", sender=sender, account=sandbox, state="running"
    )
    sender.accounts.add(other_account)

    def message(n, account, provider_id):
        return Message.objects.create(
            campaign=campaign,
            phone=f"+49151123456{n:02d}",
            account=account,
            provider_message_id=provider_id,
            status=Status.ACCEPTED,
            submitted_at=timezone.now(),
        )

    return {
        "known": message(1, sandbox, "p-1"),
        "unanswered": message(2, sandbox, ""),
        "named": message(3, sandbox, "p-3"),
        "elsewhere": message(4, other_account, "p-4"),
    }


def report(provider_id, ref=""):
    return StatusReport(provider_message_id=provider_id, status=Status.DELIVERED, ref=ref)


def statuses(messages):
    return {name: Message.objects.get(pk=m.pk).status for name, m in messages.items()}


def test_a_report_is_for_the_message_its_provider_id_names(sandbox, messages):
    batch = [
        # Its provider ID is known: that message, whatever the reference says.
        report("p-1", ref=str(messages["named"].pk)),
        # The report came before the provider's answer: our reference.
        report("p-2", ref=str(messages["unanswered"].pk)),
        # Another account's message is no match, by either.
        report("p-4", ref=str(messages["elsewhere"].pk)),
    ]
    assert reports.ingest_reports(sandbox, batch, kind=MessageEvent.Kind.REPORT) == 2
    assert statuses(messages) == {
        "known": Status.DELIVERED,
        "unanswered": Status.DELIVERED,
        "named": Status.ACCEPTED,
        "elsewhere": Status.ACCEPTED,
    }
    unknown = MessageEvent.objects.get(message=None)
    assert (unknown.account_id, unknown.provider_message_id) == (sandbox.pk, "p-4")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-statement path")
def test_the_locking_statement_matches_as_the_generic_path_does(sandbox, messages):
    batch = [
        report("p-1", ref=str(messages["named"].pk)),
        report("p-2", ref=str(messages["unanswered"].pk)),
        report("p-3"),
        report("p-4", ref=str(messages["elsewhere"].pk)),
        report("nobody", ref="not-ours"),
    ]
    matched, locked = reports._match_and_lock(sandbox, batch)
    assert matched == reports._match(sandbox, batch)
    assert matched == {
        0: messages["known"].pk,
        1: messages["unanswered"].pk,
        2: messages["named"].pk,
    }
    # Only the account's messages are read, each once.
    assert sorted(m.id for m in locked) == sorted(
        messages[name].pk for name in ("known", "unanswered", "named")
    )
