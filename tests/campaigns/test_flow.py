"""One campaign through the whole path, as a user does it over HTTP, with the
sandbox provider (tasks run in-process here; see tests/integration for the
same with a real worker)."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, Message
from campaigns.selectors import campaign_counts
from contacts.models import ContactList, Suppression
from providers.status import Status
from smsportal.models import AuditLogEntry

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_user_sends_a_campaign_from_list_to_delivery(manager_client, sandbox, sender):
    # A list, with contacts pasted in (one bad line among them).
    response = manager_client.post(reverse("contacts:lists"), {"name": "VIP", "description": ""})
    contact_list = ContactList.objects.get(name="VIP")
    assert response.status_code == 302
    response = manager_client.post(
        reverse("contacts:list", args=[contact_list.pk]),
        {
            "numbers": "015112345601, Anna\n+33 6 12 34 56 05, Lucas\nnot a number\n"
            "+4915112340000, Paul",
            "country": "DE",
        },
    )
    assert response.status_code == 200
    assert "Line 3 (not a number): not a phone number" in response.content.decode()
    assert contact_list.contacts.count() == 3

    # A campaign, saved as a draft, with its preview.
    response = manager_client.post(
        reverse("campaigns:create"),
        {
            "name": "Welcome",
            "text": 'Hi {{ first_name|default:"there" }}!',
            "account": sandbox.pk,
            "sender": sender.pk,
            "lists": [contact_list.pk],
        },
    )
    campaign = Campaign.objects.get(name="Welcome")
    assert response.status_code == 302
    page = manager_client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert "Ready to launch." in page
    assert "Hi Anna!" in page
    assert "3 recipient(s)" in page

    # Launch: the workers (in-process here) send it and the sandbox reports.
    response = manager_client.post(reverse("campaigns:launch", args=[campaign.pk]))
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.COMPLETED
    statuses = dict(Message.objects.filter(campaign=campaign).values_list("phone", "status"))
    assert statuses == {
        "+4915112345601": Status.DELIVERED,
        "+33612345605": Status.DELIVERED,
        "+4915112340000": Status.UNDELIVERED,
    }
    page = manager_client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert "Delivered" in page and "Undelivered" in page
    # Cost: 2 × DE 0.075 + 1 × FR 0.068 from the rate card, estimated at
    # launch and charged.
    assert 'id="actual-cost">0.218 EUR' in page
    assert 'id="estimated-cost">0.218 EUR' in page
    actions = list(
        AuditLogEntry.objects.filter(object_id=str(campaign.pk)).values_list("action", flat=True)
    )
    assert "campaign.create" in actions and "campaign.launch" in actions


def test_every_audience_member_is_accounted_for(draft, manager, customers):
    Suppression.objects.create(phone="+4915112345602")
    other = ContactList.objects.create(name="Overlap")
    other.contacts.add(*customers.contacts.all())  # the same people again
    draft.lists.add(other)
    from campaigns import services

    services.campaign_launch(campaign=draft, user=manager)
    draft.refresh_from_db()
    rows = Message.objects.filter(campaign=draft)
    assert rows.count() == 4  # each number once, across both lists
    assert rows.get(phone="+4915112345602").skip_reason == "suppressed"
    counts = campaign_counts([draft.pk])[draft.pk]
    assert counts.total == draft.audience_count == 4
    assert counts.get(Status.SKIPPED) == 1
    assert (
        counts.get(Status.DELIVERED) + counts.get(Status.UNDELIVERED) + counts.get(Status.REJECTED)
        == 3
    )


def test_counters_match_the_messages(draft, manager):
    from campaigns import services

    services.campaign_launch(campaign=draft, user=manager)
    services.squash_counters()
    counts = campaign_counts([draft.pk])[draft.pk]
    for status in Status:
        assert counts.get(status) == Message.objects.filter(campaign=draft, status=status).count()
    actual = sum(m.actual_cost for m in Message.objects.filter(campaign=draft))
    assert counts.actual_cost == actual
    # Rejected messages cost nothing; delivered and undelivered cost the rate.
    assert actual == Decimal("0.075") * 3


def test_it_refuses_a_schedule_in_the_past(manager_client, sandbox, sender, customers):
    response = manager_client.post(
        reverse("campaigns:create"),
        {
            "name": "Late",
            "text": "Hello",
            "account": sandbox.pk,
            "sender": sender.pk,
            "lists": [customers.pk],
            "scheduled_at": "2001-01-01T10:00",
        },
    )
    assert response.status_code == 200
    assert "This time is in the past" in response.content.decode()
    assert not Campaign.objects.filter(name="Late").exists()


def test_it_shows_every_missing_field(manager_client):
    response = manager_client.post(reverse("campaigns:create"), {})
    page = response.content.decode()
    assert page.count("This field is required.") >= 4
    assert "Choose at least one list or segment to send to." in page
    assert Campaign.objects.count() == 0


def test_a_scheduled_campaign_waits_for_its_time(draft, manager):
    from campaigns import services

    draft.scheduled_at = timezone.now() + timezone.timedelta(hours=1)
    draft.save()
    services.campaign_launch(campaign=draft, user=manager)
    draft.refresh_from_db()
    assert draft.state == Campaign.State.SCHEDULED
    assert not Message.objects.filter(campaign=draft).exclude(status=Status.PENDING).exists()
    assert services.start_due_campaigns() == []


def test_an_unapproved_sender_cannot_launch(draft, manager):
    from campaigns import services

    draft.sender.status = "pending"
    draft.sender.save()
    with pytest.raises(services.CampaignError, match="not approved"):
        services.campaign_launch(campaign=draft, user=manager)
    draft.refresh_from_db()
    assert draft.state == Campaign.State.DRAFT
    assert not Message.objects.filter(campaign=draft).exists()


def test_pause_resume_and_cancel(draft, manager):
    from campaigns import services

    draft.scheduled_at = timezone.now() + timezone.timedelta(hours=1)
    draft.save()
    services.campaign_launch(campaign=draft, user=manager)
    services.campaign_pause(campaign=draft, user=manager)
    draft.refresh_from_db()
    assert draft.state == Campaign.State.PAUSED
    services.campaign_resume(campaign=draft, user=manager)
    draft.refresh_from_db()
    assert draft.state == Campaign.State.SCHEDULED
    cancelled = services.campaign_cancel(campaign=draft, user=manager)
    assert cancelled == 4
    assert set(Message.objects.filter(campaign=draft).values_list("status", flat=True)) == {
        Status.CANCELLED
    }
    with pytest.raises(services.CampaignError):
        services.campaign_resume(campaign=draft, user=manager)


def test_a_test_send_is_logged_but_not_counted(manager_client, draft):
    response = manager_client.post(
        reverse("campaigns:test_send", args=[draft.pk]),
        {"phone": "0151 1234 5699", "country": "DE"},
    )
    assert response.status_code == 302
    message = Message.objects.get(campaign=draft, is_test=True)
    assert message.phone == "+4915112345699"
    assert message.status == Status.DELIVERED
    assert message.text == "Hi there, 20% off today."
    assert campaign_counts([draft.pk])[draft.pk].total == 0


def test_a_test_send_to_a_bad_number_says_why(manager_client, draft):
    response = manager_client.post(
        reverse("campaigns:test_send", args=[draft.pk]), {"phone": "12", "country": ""}
    )
    assert response.status_code == 400
    assert "Not a valid number" in response.content.decode()
    assert not Message.objects.filter(campaign=draft).exists()
