"""Recording a provider's answers for a claim's messages (``apply_claimed``):
the same rows, history and counters as the general status path, written
without locking and reading the rows again, and any message that changed
since the claim (a report came first) left to the general path."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from campaigns import dispatch, services
from campaigns.delivery import Update, apply_claimed, apply_updates
from campaigns.models import Campaign, Message, MessageEvent
from campaigns.selectors import campaign_counts
from providers.status import Status

pytestmark = pytest.mark.django_db(transaction=True)

KIND = MessageEvent.Kind


@pytest.fixture
def claimed(draft):
    Campaign.objects.filter(pk=draft.pk).update(state=Campaign.State.RUNNING)
    services.materialise(draft.pk)
    messages = dispatch.claim(draft, 10)
    dispatch._render(draft, messages, {}, Decimal("0.05"))
    assert len(messages) == 4
    return draft, messages


def answers(messages):
    """One accepted with the provider's price, one accepted without, one
    rejected and one with a part count of its own."""
    a, b, c, d = messages
    return [
        Update(a.id, Status.ACCEPTED, kind=KIND.SUBMIT, provider_message_id=f"p{a.id}",
               cost=Decimal("0.07"), currency="EUR", payload={"n": 1}),
        Update(b.id, Status.ACCEPTED, kind=KIND.SUBMIT, provider_message_id=f"p{b.id}"),
        Update(c.id, Status.REJECTED, kind=KIND.SUBMIT, error_code="21",
               error_description="Unknown number"),
        Update(d.id, Status.ACCEPTED, kind=KIND.SUBMIT, provider_message_id=f"p{d.id}",
               segments=3),
    ]  # fmt: skip


FIELDS = [
    "status",
    "error_code",
    "error_description",
    "actual_cost",
    "currency",
    "segments",
]


def rows(ids):
    found = Message.objects.in_bulk(ids)
    return [
        {**{name: getattr(found[i], name) for name in FIELDS},
         "provider_id": found[i].provider_message_id.replace(str(i), "<id>"),
         "sent": found[i].sent_at is not None, "done": found[i].done_at is not None}
        for i in ids
    ]  # fmt: skip


def history(ids):
    return [
        list(
            MessageEvent.objects.filter(message_id=i)
            .values_list("kind", "status", "applied", "provider_message_id", "payload")
            .order_by("id")
        )
        for i in ids
    ]


def test_it_writes_what_the_general_status_path_writes(claimed, draft, manager):
    campaign, messages = claimed
    ids = [m.id for m in messages]
    assert apply_claimed(messages, answers(messages)) == 4
    fast = (rows(ids), history(ids), campaign_counts([campaign.pk])[campaign.pk])

    # The same answers for the same claim, through the general path.
    Campaign.objects.filter(pk=campaign.pk).update(state=Campaign.State.CANCELLED)
    other = Campaign.objects.create(
        name="Again", text=campaign.text, sender=campaign.sender,
        account=campaign.account, created_by=manager, state=Campaign.State.RUNNING,
    )  # fmt: skip
    other.lists.set(campaign.lists.all())
    services.materialise(other.pk)
    again = dispatch.claim(other, 10)
    dispatch._render(other, again, {}, Decimal("0.05"))
    assert apply_updates(answers(again)) == 4
    ids_again = [m.id for m in again]
    general = (rows(ids_again), history(ids_again), campaign_counts([other.pk])[other.pk])

    def without_ids(events):
        return [[(*e[:3], e[4]) for e in per_message] for per_message in events]

    assert fast[0] == general[0]
    assert without_ids(fast[1]) == without_ids(general[1])
    assert fast[1][0] == [(KIND.SUBMIT, Status.ACCEPTED, True, f"p{ids[0]}", {"n": 1})]
    assert (
        fast[2].by_status
        == general[2].by_status
        == {
            Status.ACCEPTED: 3,
            Status.REJECTED: 1,
        }
    )
    assert fast[2].actual_cost == general[2].actual_cost
    assert fast[0][0]["actual_cost"] == Decimal("0.07")
    assert fast[0][2]["done"] and fast[0][2]["actual_cost"] == 0
    assert fast[0][3]["segments"] == 3


def test_a_report_that_came_first_is_kept_and_the_answer_still_recorded(claimed):
    campaign, messages = claimed
    first = messages[0]
    # The provider's report overtook its answer to the request.
    apply_updates([Update(first.id, Status.DELIVERED, kind=KIND.REPORT)])
    assert apply_claimed(messages, answers(messages)) == 3
    first = Message.objects.get(id=first.id)
    assert first.status == Status.DELIVERED
    assert first.provider_message_id == f"p{first.id}"
    # Priced by the rate card when the report finished it, as always.
    assert first.actual_cost == Decimal("0.05")
    assert history([first.id])[0] == [
        (KIND.REPORT, Status.DELIVERED, True, "", {}),
        # Not a status change any more, but the provider's id is new.
        (KIND.SUBMIT, Status.ACCEPTED, True, f"p{first.id}", {"n": 1}),
    ]
    counts = campaign_counts([campaign.pk])[campaign.pk]
    assert counts.by_status == {Status.DELIVERED: 1, Status.ACCEPTED: 2, Status.REJECTED: 1}


def test_a_message_recovery_took_back_goes_through_the_general_path(claimed):
    campaign, messages = claimed
    taken = messages[1]
    # Its request took so long that recovery thought the worker dead and,
    # unable to ask the provider, marked it unknown for review.
    Message.objects.filter(id=taken.id).update(submitted_at=timezone.now() - dt.timedelta(hours=1))
    assert dispatch.recover_stuck() == 1
    assert Message.objects.get(id=taken.id).status == Status.UNKNOWN
    # The answer came after all: it settles the message.
    assert apply_claimed(messages, answers(messages)) == 4
    taken = Message.objects.get(id=taken.id)
    assert (taken.status, taken.provider_message_id) == (Status.ACCEPTED, f"p{taken.id}")
    assert [e[:3] for e in history([taken.id])[0]] == [
        (KIND.RECOVERY, Status.UNKNOWN, True),
        (KIND.SUBMIT, Status.ACCEPTED, True),
    ]
    counts = campaign_counts([campaign.pk])[campaign.pk]
    assert counts.by_status == {Status.ACCEPTED: 3, Status.REJECTED: 1}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the statements PostgreSQL runs")
def test_a_claim_and_its_answers_take_the_same_few_statements_however_many_messages(
    claimed, django_assert_max_num_queries
):
    campaign, messages = claimed
    Message.objects.filter(id__in=[m.id for m in messages]).update(
        status=Status.PENDING, claim_token=None
    )
    # Claim, contacts, counters; then the rendered texts and their counters.
    with django_assert_max_num_queries(5):
        again = dispatch.claim(campaign, 10)
        dispatch._render(campaign, again, {}, Decimal("0.05"))
    # The rows, their history, the counters.
    with django_assert_max_num_queries(3):
        apply_claimed(again, answers(again))
    assert set(Message.objects.filter(campaign=campaign).values_list("status", flat=True)) == {
        Status.ACCEPTED,
        Status.REJECTED,
    }
