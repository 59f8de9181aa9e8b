"""The rules every marketing send keeps beside the campaign's own settings:
quiet hours in each recipient's local time (in every zone of the number),
the frequency cap, the consent option and the opt-out instruction. The
figures the composer shows are compared with what launch and dispatch then
do to the messages."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import compliance, compose, dispatch, services
from campaigns.compliance import QuietHours
from campaigns.models import Campaign, Message
from campaigns.selectors import campaign_counts
from contacts import segments as contact_segments
from contacts import services as contact_services
from contacts.models import Consent, Contact, Segment
from providers.status import Status
from smsportal import phones
from smsportal.models import AuditLogEntry

pytestmark = pytest.mark.django_db(transaction=True)
UTC = dt.UTC
QUIET = QuietHours(dt.time(21), dt.time(8))

RU_MOBILE = "+79161234567"  # phonenumbers: every zone of Russia and Kazakhstan
RU_OWN_ZONE = "+79161234568"  # the same kind of number, with its own zone attribute
KZ_LANDLINE = "+77272123456"  # Almaty only
JM_MOBILE = "+18762106741"  # phonenumbers: every North American zone


@pytest.fixture
def clock(monkeypatch):
    """A fixed "now" for everything that asks django.utils.timezone."""

    def set_to(*args):
        when = dt.datetime(*args, tzinfo=UTC)
        monkeypatch.setattr(timezone, "now", lambda: when)
        return when

    return set_to


@pytest.fixture
def quiet_on(settings):
    settings.QUIET_HOURS_ENABLED = True
    settings.QUIET_HOURS_START = "21:00"
    settings.QUIET_HOURS_END = "08:00"


@pytest.fixture
def far_away(customers):
    contact_services.list_add_contacts(
        contact_list=customers,
        rows=[
            {"phone": RU_MOBILE, "first_name": "Ivan"},
            {"phone": RU_OWN_ZONE, "attributes": {"time_zone": "Europe/Moscow"}},
            {"phone": KZ_LANDLINE},
        ],
    )
    return customers


def messages(campaign):
    return {m.phone: m for m in Message.objects.filter(campaign=campaign, is_test=False)}


def accounted_for(campaign):
    campaign.refresh_from_db()
    counts = campaign_counts([campaign.pk])[campaign.pk]
    assert (
        counts.total
        == campaign.audience_count
        == Message.objects.filter(campaign=campaign, is_test=False).count()
    )
    for status in Status:
        assert (
            counts.get(status)
            == Message.objects.filter(campaign=campaign, is_test=False, status=status).count()
        )
    return counts


def out_of_quiet_hours_everywhere(at, zones):
    return all(not QUIET.quiet(at, zone) for zone in zones)


# -- the rule itself -----------------------------------------------------------------------


def test_the_site_rule_is_on_by_default_and_the_cap_off():
    from smsportal import settings as site

    assert site.QUIET_HOURS_ENABLED is True
    assert (site.QUIET_HOURS_START, site.QUIET_HOURS_END) == ("21:00", "08:00")
    assert site.FREQUENCY_CAP_ENABLED is False
    assert (site.FREQUENCY_CAP_MESSAGES, site.FREQUENCY_CAP_DAYS) == (4, 7)
    assert site.OPT_OUT_CHECK is True
    assert site.OPT_OUT_INSTRUCTION == "Reply STOP to opt out"


def test_a_single_zone_is_quiet_from_nine_at_night_to_eight_in_the_morning():
    berlin = ("Europe/Berlin",)
    evening = dt.datetime(2026, 3, 10, 20, 30, tzinfo=UTC)  # 21:30 in Berlin
    noon = dt.datetime(2026, 3, 10, 11, 0, tzinfo=UTC)

    assert QUIET.next_open(evening, berlin) == dt.datetime(2026, 3, 11, 7, 0, tzinfo=UTC)
    assert QUIET.next_open(noon, berlin) == noon


def test_a_number_in_many_zones_waits_until_quiet_hours_are_over_in_all_of_them():
    zones = phones.time_zones(RU_MOBILE)
    assert len(zones) == 16 and "Asia/Kamchatka" in zones and "Europe/Bucharest" in zones

    # 05:30 UTC: morning in Moscow and evening in Kamchatka, but 07:30 in
    # Bucharest (one of the zones phonenumbers gives +7): not yet.
    morning = dt.datetime(2026, 3, 10, 5, 30, tzinfo=UTC)
    opens = QUIET.next_open(morning, zones)
    assert opens == dt.datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
    assert out_of_quiet_hours_everywhere(opens, zones)
    assert not out_of_quiet_hours_everywhere(opens - dt.timedelta(minutes=1), zones)

    # 09:30 UTC is 21:30 in Kamchatka: the next chance is the next morning.
    late = dt.datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
    assert QUIET.next_open(late, zones) == dt.datetime(2026, 3, 11, 6, 0, tzinfo=UTC)


def test_zones_that_never_leave_quiet_hours_together_have_no_open_time():
    at = dt.datetime(2026, 3, 10, tzinfo=UTC)
    # Open 08:00–21:00 at UTC, UTC+8 and UTC-8: any two overlap, never all three.
    assert QUIET.next_open(at, ("UTC", "Etc/GMT-8")) == dt.datetime(2026, 3, 10, 8, tzinfo=UTC)
    assert QUIET.next_open(at, ("UTC", "Etc/GMT-8", "Etc/GMT+8")) is None


def test_a_caribbean_mobile_waits_for_north_america_unless_that_never_opens():
    at = dt.datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # 10:00 in Jamaica
    zones = phones.time_zones(JM_MOBILE)
    assert len(zones) > 40 and "Pacific/Guam" in zones and "America/Adak" in zones
    # Every one of them, as for any number: 22:00 UTC (08:00 in Guam).
    assert compliance.number_zones(QUIET, at, JM_MOBILE, "America/Adak") == zones
    assert QUIET.next_open(at, zones) == dt.datetime(2026, 3, 10, 22, 0, tzinfo=UTC)

    # With longer quiet hours they are never all out of them at once: rather
    # than hold it for ever, the zone of its area code is read.
    long_nights = QuietHours(dt.time(20), dt.time(9))
    assert long_nights.next_open(at, zones) is None
    assert compliance.number_zones(long_nights, at, JM_MOBILE, "America/Adak") == (
        "America/Jamaica",
    )


def test_quiet_hours_over_midnight_or_within_a_day_and_bad_settings(settings):
    day_rule = QuietHours(dt.time(1), dt.time(5))
    at = dt.datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
    assert day_rule.quiet(at, "UTC") and not day_rule.quiet(at.replace(hour=6), "UTC")
    assert day_rule.next_open(at, ("UTC",)) == at.replace(hour=5)

    settings.QUIET_HOURS_ENABLED = True
    settings.QUIET_HOURS_START = "22:00"
    settings.QUIET_HOURS_END = "22:00"
    with pytest.raises(Exception, match="same time"):
        compliance.quiet_hours()
    settings.QUIET_HOURS_ENABLED = False
    assert compliance.quiet_hours() is None


# -- quiet hours at dispatch ------------------------------------------------------------------


def test_dispatch_holds_each_message_until_every_zone_of_its_number_is_open(
    quiet_on, clock, draft, far_away, manager
):
    now = clock(2026, 3, 10, 5, 30)
    services.campaign_launch(campaign=draft, user=manager)

    rows = messages(draft)
    # The contact's own zone wins; otherwise the number's first zone is kept.
    assert (rows[RU_OWN_ZONE].time_zone, rows[RU_OWN_ZONE].zone_is_own) == ("Europe/Moscow", True)
    assert (rows[RU_MOBILE].time_zone, rows[RU_MOBILE].zone_is_own) == ("Asia/Almaty", False)
    # 08:30 in Moscow and 10:30 in Almaty: sent at once.
    assert rows[RU_OWN_ZONE].status != Status.PENDING
    assert rows[KZ_LANDLINE].status != Status.PENDING
    # 06:30 in Berlin and Paris: held until 08:00 there.
    for phone in ("+4915112345601", "+4915112345602", "+4915112340000", "+33612349999"):
        assert rows[phone].status == Status.PENDING
        assert rows[phone].not_before == dt.datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
    # Every zone of +7 916… is open from 06:00 UTC (08:00 in Bucharest).
    assert rows[RU_MOBILE].status == Status.PENDING
    assert rows[RU_MOBILE].not_before == dt.datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
    assert out_of_quiet_hours_everywhere(rows[RU_MOBILE].not_before, phones.time_zones(RU_MOBILE))
    assert not out_of_quiet_hours_everywhere(now, phones.time_zones(RU_MOBILE))
    accounted_for(draft)

    clock(2026, 3, 10, 6, 0)
    dispatch.dispatch(draft.pk)
    rows = messages(draft)
    assert rows[RU_MOBILE].status != Status.PENDING
    assert rows["+4915112345601"].status == Status.PENDING

    clock(2026, 3, 10, 7, 0)
    dispatch.dispatch(draft.pk)
    assert not Message.objects.filter(campaign=draft, status=Status.PENDING).exists()
    draft.refresh_from_db()
    assert draft.state == Campaign.State.COMPLETED
    counts = accounted_for(draft)
    assert counts.submitted == 7


def test_an_own_zone_is_a_zone_this_server_knows(quiet_on, clock, draft, customers, manager):
    contact_services.list_add_contacts(
        contact_list=customers,
        rows=[
            {"phone": "+4915112345611", "attributes": {"time_zone": "Mars/Olympus"}},
            {"phone": "+4915112345612", "attributes": {"time_zone": "America/New_York"}},
        ],
    )
    now = clock(2026, 3, 10, 22, 0)  # 23:00 in Berlin, 18:00 in New York
    quiet = compose.preview(draft).quiet

    services.campaign_launch(campaign=draft, user=manager)
    rows = messages(draft)
    assert (rows["+4915112345611"].time_zone, rows["+4915112345611"].zone_is_own) == (
        "Europe/Berlin",
        False,
    )
    assert (rows["+4915112345612"].time_zone, rows["+4915112345612"].zone_is_own) == (
        "America/New_York",
        True,
    )
    assert rows["+4915112345612"].status != Status.PENDING
    held = Message.objects.filter(campaign=draft, status=Status.PENDING, not_before__gt=now)
    assert quiet.count == held.count() == 5


def test_a_hold_is_found_again_after_a_resume(quiet_on, clock, draft, manager):
    clock(2026, 3, 10, 22, 0)  # 23:00 in Berlin
    services.campaign_launch(campaign=draft, user=manager)
    services.campaign_pause(campaign=draft, user=manager, reason="")
    services.campaign_resume(campaign=draft, user=manager)

    held = Message.objects.filter(campaign=draft, status=Status.PENDING)
    assert held.count() == 4
    assert set(held.values_list("not_before", flat=True)) == {
        dt.datetime(2026, 3, 11, 7, 0, tzinfo=UTC)
    }


def test_the_groups_of_zones_are_found_once_and_kept(
    quiet_on, clock, draft, far_away, manager, django_assert_num_queries
):
    clock(2026, 3, 10, 22, 0)  # 23:00 in Berlin, 01:00 in Moscow, 03:00 in Almaty
    services.campaign_launch(campaign=draft, user=manager)
    assert not Message.objects.filter(campaign=draft).exclude(status=Status.PENDING).exists()
    draft.refresh_from_db()
    assert sorted(draft.recipient_zones) == [
        ["Asia/Almaty", "KZ", False],
        ["Asia/Almaty", "RU", False],
        ["Europe/Berlin", "DE", False],
        ["Europe/Moscow", "RU", True],
        ["Europe/Paris", "FR", False],
    ]
    Message.objects.filter(campaign=draft).update(not_before=None)
    assert dispatch.hold_in_quiet_hours(draft) == 7

    # 07:30 UTC is out of quiet hours in every zone of them all (even the
    # sixteen of +7): not one query.
    with django_assert_num_queries(0):
        held = dispatch.hold_in_quiet_hours(draft, now=dt.datetime(2026, 3, 11, 7, 30, tzinfo=UTC))
    assert held == 0


def test_the_composer_counts_the_recipients_dispatch_then_holds(
    quiet_on, clock, draft, far_away, manager, manager_client
):
    now = clock(2026, 3, 10, 5, 30)
    page = manager_client.get(reverse("campaigns:edit", args=[draft.pk])).content.decode()
    shown = int(re.search(r'data-preview="quiet-count">(\d+)<', page).group(1))
    assert "(21:00–08:00 their time)" in page

    services.campaign_launch(campaign=draft, user=manager)
    held = Message.objects.filter(campaign=draft, status=Status.PENDING, not_before__gt=now)
    assert shown == held.count() == 5
    preview = compose.preview(draft)
    assert preview.quiet.first_release == min(held.values_list("not_before", flat=True))
    assert preview.quiet.last_release == max(held.values_list("not_before", flat=True))


def test_an_admin_lifts_quiet_hours_for_one_campaign_with_a_reason(
    quiet_on, clock, client, draft, manager, admin_user
):
    clock(2026, 3, 10, 22, 0)
    form = {
        "name": draft.name,
        "text": draft.text,
        "account": draft.account_id,
        "sender": draft.sender_id,
        "lists": [draft.lists.get().pk],
    }
    # A campaign manager does not see the option, and cannot set it.
    client.force_login(manager)
    page = client.get(reverse("campaigns:edit", args=[draft.pk])).content.decode()
    assert "quiet_hours_lifted" not in page
    client.post(reverse("campaigns:edit", args=[draft.pk]), {**form, "quiet_hours_lifted": "on"})
    draft.refresh_from_db()
    assert not draft.quiet_hours_lifted

    client.force_login(admin_user)
    response = client.post(
        reverse("campaigns:edit", args=[draft.pk]), {**form, "quiet_hours_lifted": "on"}
    )
    assert "Say why the quiet hours are lifted." in response.content.decode()
    reason = "Storm warning: the shop closes tomorrow"
    client.post(
        reverse("campaigns:edit", args=[draft.pk]),
        {**form, "quiet_hours_lifted": "on", "quiet_hours_reason": reason},
    )
    draft.refresh_from_db()
    assert draft.quiet_hours_lifted and draft.quiet_hours_reason == reason
    entry = AuditLogEntry.objects.get(action="campaign.quiet_hours_lifted")
    assert (entry.actor, entry.object_id, entry.details) == (
        admin_user,
        str(draft.pk),
        {"reason": reason},
    )
    page = client.get(reverse("campaigns:detail", args=[draft.pk])).content.decode()
    assert f"lifted by an Admin: {reason}" in page

    services.campaign_launch(campaign=draft, user=admin_user)
    assert not Message.objects.filter(campaign=draft, status=Status.PENDING).exists()

    # Restoring them is recorded too.
    other = Campaign.objects.create(
        name="Other",
        text="x",
        sender=draft.sender,
        account=draft.account,
        quiet_hours_lifted=True,
        quiet_hours_reason="test",
    )
    other.lists.add(draft.lists.get())
    client.post(reverse("campaigns:edit", args=[other.pk]), {**form, "name": "Other"})
    other.refresh_from_db()
    assert (other.quiet_hours_lifted, other.quiet_hours_reason) == (False, "")
    assert AuditLogEntry.objects.filter(
        action="campaign.quiet_hours_restored", object_id=str(other.pk)
    ).exists()


def test_lifting_quiet_hours_in_the_django_admin_needs_a_reason_and_is_audited(
    draft, admin_user, rf
):
    from django.contrib.admin.sites import site
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="Say why the quiet hours are lifted."):
        Campaign(quiet_hours_lifted=True).clean()
    request = rf.post("/")
    request.user = admin_user
    draft.quiet_hours_lifted, draft.quiet_hours_reason = True, "Outage notice"
    site._registry[Campaign].save_model(request, draft, form=None, change=True)

    entry = AuditLogEntry.objects.get(action="campaign.quiet_hours_lifted")
    assert (entry.actor, entry.details) == (admin_user, {"reason": "Outage notice"})


def test_a_schedule_handed_to_the_provider_may_not_fall_in_quiet_hours(quiet_on, clock, draft):
    clock(2026, 3, 10, 12, 0)
    draft.schedule_at_provider = True
    draft.scheduled_at = dt.datetime(2026, 3, 10, 22, 0, tzinfo=UTC)
    result = compose.check(draft)
    assert any("4 recipient(s) are in quiet hours" in e for e in result.errors)

    draft.scheduled_at = dt.datetime(2026, 3, 11, 12, 0, tzinfo=UTC)
    assert not any("quiet hours" in e for e in compose.check(draft).errors)


# -- frequency cap ----------------------------------------------------------------------------


@pytest.fixture
def cap_on(settings):
    settings.FREQUENCY_CAP_ENABLED = True
    settings.FREQUENCY_CAP_MESSAGES = 2
    settings.FREQUENCY_CAP_DAYS = 7


def sent(
    draft,
    phone,
    *,
    days_ago=1,
    status=Status.DELIVERED,
    is_test=False,
    purpose=Campaign.Purpose.MARKETING,
):
    """A message of an earlier campaign (each in a campaign of its own)."""
    when = timezone.now() - dt.timedelta(days=days_ago)
    campaign = Campaign.objects.create(
        name="Earlier",
        text="Earlier",
        sender=draft.sender,
        account=draft.account,
        state=Campaign.State.COMPLETED,
        purpose=purpose,
    )
    message = Message.objects.create(
        campaign=campaign,
        phone=phone,
        account=campaign.account,
        status=status,
        is_test=is_test,
        submitted_at=when,
        skip_reason="suppressed" if status == Status.SKIPPED else "",
    )
    Message.objects.filter(pk=message.pk).update(created_at=when)


def test_the_frequency_cap_skips_contacts_who_had_enough_and_the_composer_says_so(
    cap_on, draft, manager, manager_client
):
    replies = Campaign.Purpose.REPLIES
    sent(draft, "+4915112345601")
    sent(draft, "+4915112345601", days_ago=6, status=Status.ACCEPTED)  # two in 7 days: capped
    sent(draft, "+4915112345602")
    sent(draft, "+4915112345602", is_test=True)  # a test send does not count
    sent(draft, "+4915112340000", days_ago=8)
    sent(draft, "+4915112340000", days_ago=3)  # one of them too old
    sent(draft, "+33612349999", status=Status.REJECTED)
    sent(draft, "+33612349999", status=Status.SKIPPED)  # never reached anyone
    sent(draft, "+33612349999", purpose=replies)
    sent(draft, "+33612349999", purpose=replies)  # keyword replies are not marketing

    preview = compose.preview(draft)
    assert (preview.over_cap, preview.audience) == (1, 3)
    page = manager_client.get(reverse("campaigns:edit", args=[draft.pk])).content.decode()
    assert re.search(r'data-preview="over-cap">1 already had 2 in 7 days', page)
    assert 'data-preview="audience">3 recipient(s)' in page

    services.campaign_launch(campaign=draft, user=manager)
    rows = messages(draft)
    assert (rows["+4915112345601"].status, rows["+4915112345601"].skip_reason) == (
        Status.SKIPPED,
        "frequency_cap",
    )
    assert rows["+4915112345601"].estimated_cost == 0
    skipped = Message.objects.filter(campaign=draft, skip_reason="frequency_cap").count()
    assert skipped == preview.over_cap
    counts = accounted_for(draft)
    assert counts.get(Status.SKIPPED) == 1 and counts.submitted == 3
    page = manager_client.get(reverse("campaigns:messages") + f"?campaign={draft.pk}")
    assert "Over the frequency cap" in page.content.decode()
    page = manager_client.get(reverse("campaigns:message", args=[rows["+4915112345601"].pk]))
    assert "Over the frequency cap" in page.content.decode()

    # What this campaign delivered counts for the next one: 602 has two now.
    again = Campaign.objects.create(
        name="Again", text="Again", sender=draft.sender, account=draft.account
    )
    again.lists.add(*draft.lists.all())
    assert compose.preview(again).over_cap == 2


def test_the_cap_is_off_by_default_and_skips_nobody(draft, manager):
    for _ in range(5):
        sent(draft, "+4915112345601")
    assert compose.preview(draft).over_cap is None
    services.campaign_launch(campaign=draft, user=manager)
    assert not Message.objects.filter(campaign=draft, skip_reason="frequency_cap").exists()


# -- consent ---------------------------------------------------------------------------------


def test_only_contacts_with_recorded_consent_get_a_campaign_that_asks_for_it(
    draft, manager, manager_client, customers
):
    Contact.objects.filter(phone="+4915112345601").update(consent=Consent.OPTED_IN)
    Contact.objects.filter(phone="+33612349999").update(consent=Consent.OPTED_IN)
    Contact.objects.filter(phone="+4915112340000").update(consent=Consent.OPTED_OUT)
    contact_services.list_add_contacts(contact_list=customers, rows=[{"phone": "+4915112345699"}])
    Contact.objects.filter(phone="+4915112345699").update(consent=Consent.OPTED_IN)
    services_suppress("+4915112345699")  # suppressed comes first
    draft.consent_required = True
    draft.save()

    preview = compose.preview(draft)
    assert (preview.suppressed, preview.no_consent, preview.audience) == (1, 2, 2)
    page = manager_client.get(reverse("campaigns:edit", args=[draft.pk])).content.decode()
    assert 'data-preview="no-consent">2 skipped at launch' in page

    services.campaign_launch(campaign=draft, user=manager)
    reasons = dict(Message.objects.filter(campaign=draft).values_list("phone", "skip_reason"))
    assert reasons == {
        "+4915112345601": "",
        "+33612349999": "",
        "+4915112345602": "no_consent",
        "+4915112340000": "no_consent",
        "+4915112345699": "suppressed",
    }
    counts = accounted_for(draft)
    assert counts.get(Status.SKIPPED) == 3 and counts.submitted == 2
    page = manager_client.get(reverse("campaigns:detail", args=[draft.pk])).content.decode()
    assert "No recorded consent" in page


def services_suppress(phone):
    from contacts.models import Suppression

    Suppression.objects.create(phone=phone)


def test_the_consent_option_is_a_composer_control(manager_client, draft):
    response = manager_client.post(
        reverse("campaigns:edit", args=[draft.pk]),
        {
            "name": draft.name,
            "text": draft.text,
            "account": draft.account_id,
            "sender": draft.sender_id,
            "lists": [draft.lists.get().pk],
            "consent_required": "on",
        },
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.consent_required


def test_a_segment_picks_contacts_by_consent(customers):
    Contact.objects.filter(phone="+4915112345601").update(consent=Consent.OPTED_IN)
    Contact.objects.filter(phone="+4915112340000").update(consent=Consent.OPTED_OUT)
    condition = contact_segments.clean_condition(
        {"field": "consent", "op": "is", "value": " Opted In "}
    )
    assert condition == {"field": "consent", "op": "is", "key": "", "value": "opted_in"}
    assert contact_segments.describe(condition) == "Consent is opted in"
    segment = Segment.objects.create(name="Opted in", conditions=[condition])
    assert list(contact_segments.contacts(segment).values_list("phone", flat=True)) == [
        "+4915112345601"
    ]
    segment.conditions = [
        contact_segments.clean_condition({"field": "consent", "op": "is_not", "value": "unknown"})
    ]
    assert set(contact_segments.contacts(segment).values_list("phone", flat=True)) == {
        "+4915112345601",
        "+4915112340000",
    }
    with pytest.raises(Exception, match="Consent is one of: opted in, unknown, opted out"):
        contact_segments.clean_condition({"field": "consent", "op": "is", "value": "maybe"})


# -- opt-out instruction ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "has_it"),
    [
        ("20% off today. Reply STOP to opt out", True),
        ("20% off today. reply stop to opt out", True),
        ("20% off today. Text STOP to 12345", True),
        ("20% off. STOPP an 12345", True),
        ("20% off today. Unsubscribe: example.com/u", True),
        ("20% off today, until the end of the season!", False),
        ("Don't stop now: 20% off", False),
        ("20% off today.", False),
    ],
)
def test_an_opt_out_instruction_is_recognised(settings, text, has_it):
    settings.OPT_OUT_CHECK = True
    assert compliance.has_opt_out_instruction(text) is has_it


def test_the_composer_warns_without_an_opt_out_instruction_and_prices_appending_it(
    settings, draft, manager_client
):
    settings.OPT_OUT_CHECK = True
    # 150 characters: one part now, two with the instruction.
    draft.text = "Spring sale! " + "x" * 137
    draft.save()

    result = compose.check(draft)
    assert result.ok
    assert any("does not say how to opt out" in w for w in result.warnings)
    preview = compose.preview(draft)
    assert (preview.segments, preview.opt_out.segments) == (1, 2)
    # 3 × DE 0.075 + 1 × FR 0.068, then twice that.
    assert preview.estimated_cost == Decimal("0.293")
    assert preview.opt_out.estimated_cost == Decimal("0.586")
    page = manager_client.get(reverse("campaigns:edit", args=[draft.pk])).content.decode()
    assert 'data-append-text="Reply STOP to opt out"' in page
    assert "With it: 2 parts instead of 1, about 0.586 EUR instead of 0.293 EUR." in page

    # Appended, as the button does: the check is quiet, the parts are two.
    draft.text = compliance.with_opt_out_instruction(draft.text, "Reply STOP to opt out")
    draft.save()
    assert draft.text.endswith("x Reply STOP to opt out")
    assert compose.preview(draft).opt_out is None
    assert compose.preview(draft).segments == 2
    assert not compose.check(draft).warnings


def test_a_personalised_text_is_priced_with_the_instruction_per_recipient(settings, draft):
    settings.OPT_OUT_CHECK = True
    draft.text = "Hi {{ first_name }}, " + "y" * 135  # 1 part for every name here
    draft.save()
    preview = compose.preview(draft)
    assert preview.opt_out.estimated_cost == 2 * preview.estimated_cost


def test_the_opt_out_check_follows_its_setting(settings, draft):
    settings.OPT_OUT_CHECK = False
    assert not compose.check(draft).warnings
    assert compose.preview(draft).opt_out is None
    settings.OPT_OUT_CHECK = True
    settings.OPT_OUT_INSTRUCTION = "Antworte STOPP zum Abmelden"
    assert compose.preview(draft).opt_out.wording == "Antworte STOPP zum Abmelden"


# -- skip reasons --------------------------------------------------------------------------


def test_skip_reasons_have_labels_and_keep_their_codes():
    labels = dict(Message.SkipReason.choices)
    assert labels["opted_out"] == "Opted out after launch"
    assert labels["frequency_cap"] == "Over the frequency cap"
    assert labels["no_consent"] == "No recorded consent"
    assert {"suppressed", "outside_dlt", "sender_country"} <= set(labels)
    assert Message(skip_reason="suppressed").get_skip_reason_display() == "Suppressed"


def test_test_sends_ignore_the_rules(quiet_on, cap_on, clock, draft, manager):
    clock(2026, 3, 10, 23, 0)
    sent(draft, "+4915112345601")
    sent(draft, "+4915112345601")
    message = services.test_send(campaign=draft, phone="+4915112345601", user=manager)
    assert message.status != Status.PENDING
