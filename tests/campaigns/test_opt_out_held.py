"""A campaign that handed its schedule to the provider: a number that opts
out before the send time has its message cancelled there (the loopback
voip-communications provider holds the messages and confirms the cancel)."""

import datetime as dt

import pytest

from campaigns.models import Campaign, Message
from contacts import services as contact_services
from contacts.models import Suppression
from providers.status import Status
from smsportal.models import AuditLogEntry
from tests.providers.fakes.engine import assert_counters_match, by_phone, launch
from tests.providers.test_engine_voipcomms import calls, provider, setup  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def hand_over(base_url, manager) -> Campaign:
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)).replace(second=0, microsecond=0)
    campaign = setup(base_url)
    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=at, schedule_at_provider=True)
    campaign = launch(Campaign.objects.get(pk=campaign.pk), manager)
    assert campaign.state == Campaign.State.SCHEDULED
    assert {m.status for m in by_phone(campaign).values()} == {Status.ACCEPTED}
    return campaign


def test_an_opt_out_cancels_the_numbers_message_the_provider_holds(provider, manager):  # noqa: F811
    handler, base_url = provider
    campaign = hand_over(base_url, manager)

    contact_services.suppression_add(phone="+12812345671", user=manager, note="Asked by phone")

    [(_, form)] = calls(handler, "sms/delete")
    held = by_phone(campaign)
    assert held["+12812345671"].status == Status.CANCELLED
    assert held["+12812345671"].error_description == "Cancelled at the provider"
    # The others still go out at the scheduled time.
    assert {held[p].status for p in ("+12812345670", "+12812345679")} == {Status.ACCEPTED}
    assert AuditLogEntry.objects.filter(action="campaign.cancel_opted_out").count() == 1
    assert_counters_match(Campaign.objects.get(pk=campaign.pk))


def test_a_number_suppressed_before_launch_is_never_handed_over(provider, manager):  # noqa: F811
    handler, base_url = provider
    Suppression.objects.create(phone="+12812345670")

    campaign = setup(base_url)
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)).replace(second=0, microsecond=0)
    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=at, schedule_at_provider=True)
    campaign = launch(Campaign.objects.get(pk=campaign.pk), manager)

    assert Message.objects.get(campaign=campaign, phone="+12812345670").status == Status.SKIPPED
    assert calls(handler, "sms/delete") == []
