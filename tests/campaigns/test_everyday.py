"""Everyday actions over HTTP: a campaign copied as a new draft, the message
log and a campaign's report as CSV, delivery windows edited and deleted
(not while in use), and the dashboard's first steps."""

import csv
import datetime as dt
import io

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from campaigns import selectors, services
from campaigns.models import Campaign, DeliveryWindow, Message
from providers.models import ProviderAccount
from smsportal.models import AuditLogEntry

pytestmark = pytest.mark.django_db(transaction=True)


def read_csv(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content).decode()
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))


@pytest.fixture
def sent(draft, manager):
    services.campaign_launch(campaign=draft, user=manager)
    draft.refresh_from_db()
    return draft


# ---------------------------------------------------------------- copies


def test_a_campaign_is_copied_with_its_audience_but_not_its_history(
    manager_client, manager, sent, customers, sandbox
):
    other = customers.__class__.objects.create(name="VIP")
    sent.exclude_lists.add(other)
    Campaign.objects.filter(pk=sent.pk).update(
        keep_gsm7=True, validity_minutes=90, quiet_hours_lifted=True, quiet_hours_reason="x"
    )
    response = manager_client.post(reverse("campaigns:clone", args=[sent.pk]))
    copy = Campaign.objects.get(name="Spring sale (copy)")
    assert response.url == reverse("campaigns:edit", args=[copy.pk])
    assert (copy.state, copy.text, copy.sender, copy.account) == (
        "draft", sent.text, sent.sender, sandbox
    )  # fmt: skip
    assert (copy.keep_gsm7, copy.validity_minutes) == (True, 90)
    assert list(copy.lists.all()) == [customers] and list(copy.exclude_lists.all()) == [other]
    # What launching did, and an Admin's lifting of the quiet hours, stay behind.
    assert (copy.audience_count, copy.launched_at, copy.quiet_hours_lifted) == (0, None, False)
    assert copy.created_by == manager
    assert not Message.objects.filter(campaign=copy).exists()
    entry = AuditLogEntry.objects.get(action="campaign.clone")
    assert entry.details == {"copied_from": sent.pk}


def test_a_long_name_stays_within_its_column(manager, draft):
    draft.name = "x" * 150
    copy = services.campaign_clone(campaign=draft, user=manager)
    assert len(copy.name) <= 150 and copy.name.endswith("… (copy)")


def test_the_keyword_replies_log_is_not_copied(manager_client, draft):
    Campaign.objects.filter(pk=draft.pk).update(purpose=Campaign.Purpose.REPLIES)
    response = manager_client.post(reverse("campaigns:clone", args=[draft.pk]), follow=True)
    assert "Only a marketing campaign can be copied." in response.content.decode()
    assert Campaign.objects.count() == 1


def test_an_analyst_cannot_copy(client, analyst, draft):
    client.force_login(analyst)
    assert client.post(reverse("campaigns:clone", args=[draft.pk])).status_code == 403


# ----------------------------------------------------------------- CSV


def test_the_message_log_downloads_as_filtered(client, analyst, sent, sandbox):
    other = ProviderAccount.objects.create(name="Other", kind="sandbox")
    Message.objects.create(
        campaign=sent, account=other, phone="+4915112345699", status="pending", text="=cmd()"
    )
    client.force_login(analyst)  # every role exports what it reads
    url = reverse("campaigns:messages_export")
    rows = read_csv(client.get(url))
    header = rows[0]
    assert header[:6] == ["id", "campaign", "campaign_name", "is_test", "phone", "country"]
    assert "account_name" in header and len(rows) == 6
    by_phone = {r[header.index("phone")]: r for r in rows[1:]}
    # Cells a spreadsheet would run are escaped, as by the REST export.
    assert by_phone["'+4915112345699"][header.index("text")] == "'=cmd()"

    rows = read_csv(client.get(url, {"status": "delivered", "campaign": sent.pk}))
    assert [r[header.index("status")] for r in rows[1:]] == ["delivered", "delivered"]
    assert len(read_csv(client.get(url, {"account": other.pk}))) == 2
    response = client.get(url, {"campaign": sent.pk})
    assert "messages-Spring-sale-" in response["Content-Disposition"]
    # A wrong filter is left out, as on the page.
    assert len(read_csv(client.get(url, {"status": "nonsense"}))) == 6


def test_the_message_log_links_its_download_with_the_filters(manager_client, sent):
    page = manager_client.get(reverse("campaigns:messages"), {"status": "delivered"})
    assert 'href="/messages/export.csv?status=delivered"' in page.content.decode()


def test_a_campaigns_report_sums_its_counters_per_country(client, analyst, sent):
    services.test_send(campaign=sent, phone="+4915112345688", user=None)
    client.force_login(analyst)
    rows = read_csv(client.get(reverse("campaigns:report_export", args=[sent.pk])))
    header = rows[0]
    assert header[:3] == ["country", "recipients", "pending"]
    assert header[-3:] == ["estimated_cost", "actual_cost", "currency"]
    table = {r[0]: dict(zip(header, r, strict=True)) for r in rows[1:]}
    assert list(table) == ["DE", "FR", "all"]
    # The test send is not in the report, as it is not in the progress.
    assert table["DE"]["recipients"] == "3" and table["all"]["recipients"] == "4"
    assert (table["DE"]["delivered"], table["DE"]["undelivered"]) == ("2", "1")
    assert (table["FR"]["rejected"], table["FR"]["submitted"]) == ("1", "1")
    assert table["DE"]["delivery_rate"] == "0.6667"
    assert table["all"]["estimated_cost"] == "0.29300"
    assert table["all"]["currency"] == "EUR"


def test_a_draft_has_no_report_button_but_a_launched_one_has(manager_client, draft, manager):
    url = reverse("campaigns:report_export", args=[draft.pk])
    assert (
        url not in manager_client.get(reverse("campaigns:detail", args=[draft.pk])).content.decode()
    )
    services.campaign_launch(campaign=draft, user=manager)
    assert url in manager_client.get(reverse("campaigns:detail", args=[draft.pk])).content.decode()


# -------------------------------------------------------------- windows


def window_data(**extra):
    data = {
        "name": "Office hours",
        "days": ["0", "1", "2", "3", "4"],
        "start_time": "09:00",
        "end_time": "17:00",
        "time_zone": "Europe/Berlin",
    }
    data.update(extra)
    return data


@pytest.fixture
def office(db):
    return DeliveryWindow.objects.create(
        name="Office hours", days=[0, 1, 2, 3, 4], start_time="09:00", end_time="18:00"
    )


def test_a_window_is_edited_and_the_change_audited(manager_client, office):
    url = reverse("campaigns:window_edit", args=[office.pk])
    assert "Edit “Office hours”" in manager_client.get(url).content.decode()
    response = manager_client.post(url, window_data())
    assert response.status_code == 302
    office.refresh_from_db()
    assert office.summary() == "Mon–Fri 09:00–17:00 Europe/Berlin"
    assert AuditLogEntry.objects.filter(action="window.edit").exists()
    response = manager_client.post(url, window_data(days=[]))
    assert response.status_code == 400
    assert "Choose at least one day" in response.content.decode() or "required" in (
        response.content.decode()
    )


def test_editing_a_window_in_use_says_what_it_changes(manager_client, office, draft, manager):
    # Scheduled for tomorrow, so the campaign uses the window whatever the
    # hour the test runs at (launched inside the window, it would be sent
    # and completed at once).
    draft.window = office
    draft.scheduled_at = timezone.now() + dt.timedelta(days=1)
    draft.save()
    services.campaign_launch(campaign=draft, user=manager)
    draft.refresh_from_db()
    assert draft.state == Campaign.State.SCHEDULED
    page = manager_client.get(reverse("campaigns:window_edit", args=[office.pk])).content.decode()
    assert "a change applies to their messages not yet sent" in page


def test_a_window_in_use_is_not_deleted_and_the_campaigns_are_named(manager_client, office, draft):
    draft.window = office
    draft.save()
    response = manager_client.post(
        reverse("campaigns:window_delete", args=[office.pk]), follow=True
    )
    assert "“Office hours” is not deleted: 1 campaign uses it (“Spring sale”)" in (
        response.content.decode()
    )
    assert DeliveryWindow.objects.filter(pk=office.pk).exists()
    draft.window = None
    draft.save()
    manager_client.post(reverse("campaigns:window_delete", args=[office.pk]))
    assert not DeliveryWindow.objects.exists()
    assert AuditLogEntry.objects.filter(action="window.delete").exists()


def test_the_window_list_counts_the_campaigns_using_each(manager_client, office, draft):
    draft.window = office
    draft.save()
    page = manager_client.get(reverse("campaigns:windows")).content.decode()
    assert 'data-label="Campaigns">1</td>' in page


# ------------------------------------------------------------- first steps


def test_the_first_steps_follow_what_is_done(manager_client, manager, sandbox, sender, customers):
    steps = selectors.first_steps(can_send=True, can_administer=False)
    assert [(s.key, s.done) for s in steps] == [
        ("account", True), ("sender", True), ("contacts", True), ("campaign", False)
    ]  # fmt: skip
    # A Campaign manager is not sent to add provider accounts.
    assert steps[0].url_name == ""
    page = manager_client.get(reverse("home")).content.decode()
    assert 'data-step="campaign"' in page and "Launch your first campaign" in page
    campaign = Campaign.objects.create(
        name="First", text="Hi", sender=sender, account=sandbox, created_by=manager
    )
    campaign.lists.add(customers)
    services.campaign_launch(campaign=campaign, user=manager)
    assert selectors.first_steps(can_send=True, can_administer=False) is None
    assert 'id="first-steps"' not in manager_client.get(reverse("home")).content.decode()


def test_an_empty_install_shows_every_step_to_do(client, admin_user):
    client.force_login(admin_user)
    page = client.get(reverse("home")).content.decode()
    for step in ("account", "sender", "contacts", "campaign"):
        assert f'class="step" data-step="{step}"' in page
    assert "Add the account" in page


def test_dashboard_totals_are_money_where_every_account_has_one_currency(manager_client, sandbox):
    page = manager_client.get(reverse("home")).content.decode()
    assert 'data-stat="month-cost">0.00 EUR<' in page
    ProviderAccount.objects.create(name="US", kind="sandbox", currency="USD")
    assert selectors.single_currency() == ""
    page = manager_client.get(reverse("home")).content.decode()
    # Sums of several currencies are no amount of money: a plain figure.
    assert 'data-stat="month-cost"><span data-number="0"' in page
