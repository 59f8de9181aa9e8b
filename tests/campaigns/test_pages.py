"""The campaign pages over HTTP: the composer's live preview, launching
from it, the campaign page, the message log's filters, DLT templates and
delivery windows, and fixed query counts on the list pages."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import (
    Approval,
    Campaign,
    CampaignCounter,
    DeliveryWindow,
    DLTTemplate,
    Message,
)
from contacts.models import Segment, Suppression
from providers.status import WENT_OUT, Status
from smsportal.models import AuditLogEntry

pytestmark = pytest.mark.django_db


def composer_data(sandbox, sender, customers, **extra):
    data = {
        "name": "Autumn",
        "text": 'Hi {{ first_name|default:"there" }}, autumn sale!',
        "account": sandbox.pk,
        "sender": sender.pk,
        "lists": [customers.pk],
    }
    data.update(extra)
    return data


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


# ------------------------------------------------------------------ composer


def test_the_preview_follows_an_unsaved_draft(manager_client, sandbox, sender, customers):
    Suppression.objects.create(phone="+4915112345602")
    response = manager_client.post(
        reverse("campaigns:preview"), composer_data(sandbox, sender, customers)
    )
    page = response.content.decode()

    assert response.status_code == 200
    assert 'id="composer-preview"' in page
    assert "3 recipient(s) · 1 suppressed" in page
    assert "Hi Anna, autumn sale!" in page
    assert "Hi Paul, autumn sale!" in page
    # 2 × DE 0.075 + 1 × FR 0.068 from the rate card.
    assert "0.218 EUR" in page
    assert "Ready to launch." in page
    assert 'data-confirm="Send to 3 recipient(s) for about 0.218 EUR?"' in page
    assert not Campaign.objects.exists()


def test_the_preview_counts_parts_and_offers_gsm7(manager_client, sandbox, sender, customers):
    text = "Don’t miss it — " + "x" * 60
    response = manager_client.post(
        reverse("campaigns:preview"), composer_data(sandbox, sender, customers, text=text)
    )
    page = response.content.decode()

    assert '<dd data-preview="encoding">UCS-2</dd>' in page
    assert '<dd data-preview="segments">2</dd>' in page
    assert "would go as GSM-7 in 1 part(s) instead of 2" in page

    response = manager_client.post(
        reverse("campaigns:preview"),
        composer_data(sandbox, sender, customers, text=text, keep_gsm7="on"),
    )
    page = response.content.decode()
    assert '<dd data-preview="encoding">GSM-7</dd>' in page
    assert "Don&#x27;t miss it - x" in page
    assert 'data-preview="gsm7"' not in page


def test_the_composer_points_to_the_segment_builder_while_there_is_no_segment(
    manager_client, customers
):
    builder = reverse("contacts:segment_create")
    page = manager_client.get(reverse("campaigns:create")).content.decode()
    assert f'No segment yet: <a href="{builder}">build one</a>' in page

    Segment.objects.create(name="Germany", conditions=[])
    page = manager_client.get(reverse("campaigns:create")).content.decode()
    assert "No segment yet" not in page
    assert "Contacts matching a segment when the campaign launches." in page
    assert "Germany" in page


def test_an_account_name_in_a_help_text_is_shown_as_text(manager_client, sandbox):
    sandbox.name = "<b>Bulk</b>"
    sandbox.save()
    page = manager_client.get(reverse("campaigns:create")).content.decode()
    assert "&lt;b&gt;Bulk&lt;/b&gt;: " in page
    assert "<b>Bulk</b>" not in page


def test_the_preview_says_what_is_missing(manager_client, customers):
    response = manager_client.post(reverse("campaigns:preview"), {"text": "Hello"})
    page = response.content.decode()

    assert '<dd data-preview="segments">1</dd>' in page
    assert "Choose a provider account and a sender ID" in page
    assert "Save and launch" not in page


def test_the_preview_refuses_a_sender_that_is_not_approved(
    manager_client, sandbox, sender, customers
):
    sender.status = Approval.PENDING
    sender.save()
    response = manager_client.post(
        reverse("campaigns:preview"), composer_data(sandbox, sender, customers)
    )
    page = response.content.decode()

    assert "The sender ID Shop is not approved" in page
    assert 'class="bad"' in page
    assert "disabled" in page.split('value="launch"')[1].split(">")[0]


def test_the_preview_checks_messages_to_india_against_the_dlt_template(
    manager_client, sandbox, sender, customers
):
    from contacts import services as contact_services

    contact_services.list_add_contacts(
        contact_list=customers, rows=[{"phone": "+919812345678", "first_name": "Ravi"}]
    )
    template = DLTTemplate.objects.create(
        name="Offer",
        template_id="1107160000000012345",
        principal_entity_id="1101000000000001",
        header=sender,
        category=DLTTemplate.Category.PROMOTIONAL,
        content="Dear {#var#}, our sale starts today.",
        status=Approval.APPROVED,
    )
    data = composer_data(sandbox, sender, customers, dlt_template=template.pk)
    page = manager_client.post(reverse("campaigns:preview"), data).content.decode()
    assert "do not match the DLT template 1107160000000012345" in page
    assert "+91 98123 45678" in page

    data["text"] = "Dear {{ first_name }}, our sale starts today."
    page = manager_client.post(reverse("campaigns:preview"), data).content.decode()
    assert "DLT template" not in page.split("<h3>Checks</h3>")[1]


def test_the_composer_saves_then_launches_with_the_sandbox(
    manager_client, sandbox, sender, customers, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(
            reverse("campaigns:create"),
            composer_data(sandbox, sender, customers, action="launch"),
        )
    campaign = Campaign.objects.get(name="Autumn")

    assert response.status_code == 302
    assert response["Location"] == reverse("campaigns:detail", args=[campaign.pk])
    assert campaign.state == Campaign.State.COMPLETED
    assert campaign.messages.filter(status=Status.DELIVERED).count() == 2
    actions = set(
        AuditLogEntry.objects.filter(object_id=str(campaign.pk)).values_list("action", flat=True)
    )
    assert {"campaign.create", "campaign.launch"} <= actions


def test_the_composer_keeps_a_draft_it_cannot_launch(manager_client, sandbox, sender, customers):
    sender.status = Approval.PENDING
    sender.save()
    response = manager_client.post(
        reverse("campaigns:create"),
        composer_data(sandbox, sender, customers, action="launch"),
        follow=True,
    )
    campaign = Campaign.objects.get(name="Autumn")

    assert campaign.state == Campaign.State.DRAFT
    assert "Saved as a draft, not launched" in response.content.decode()
    assert "not approved" in response.content.decode()


def test_the_composer_sends_a_test(manager_client, sandbox, sender, customers):
    data = composer_data(sandbox, sender, customers, action="test")
    data["test-phone"] = "+4915112345601"
    response = manager_client.post(reverse("campaigns:create"), data, follow=True)
    campaign = Campaign.objects.get(name="Autumn")
    test = campaign.messages.get(is_test=True)

    assert test.phone == "+4915112345601"
    assert test.text == "Hi Anna, autumn sale!"
    assert "Test sent to +4915112345601: Delivered" in response.content.decode()
    assert campaign.state == Campaign.State.DRAFT


def test_a_bad_test_number_is_explained_beside_it(manager_client, sandbox, sender, customers):
    data = composer_data(sandbox, sender, customers, action="test")
    data["test-phone"] = "12"
    response = manager_client.post(reverse("campaigns:create"), data)
    page = response.content.decode()

    assert 'id="id_test-phone_error"' in page
    assert "Not a valid number" in page
    assert not Campaign.objects.exists()


def test_a_schedule_is_typed_in_the_users_time_zone(manager_client, sandbox, sender, customers):
    manager_client.cookies["tz"] = "Asia/Kolkata"
    tomorrow = (timezone.now() + dt.timedelta(days=1)).date()
    data = composer_data(sandbox, sender, customers, scheduled_at=f"{tomorrow}T09:30")
    manager_client.post(reverse("campaigns:create"), data)
    campaign = Campaign.objects.get(name="Autumn")

    assert campaign.scheduled_at == dt.datetime.combine(tomorrow, dt.time(4, 0), tzinfo=dt.UTC)
    page = manager_client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert f"scheduled {tomorrow:%Y-%m-%d} 09:30 IST" in page


def test_handing_the_schedule_to_a_provider_that_cannot_hold_one_is_refused(
    manager_client, sandbox, sender, customers
):
    # The sandbox does not schedule; no time and a window are refused too.
    window = DeliveryWindow(
        name="Office", days=[0, 1, 2, 3, 4], start_time=dt.time(9), end_time=dt.time(18)
    )
    window.save()
    data = composer_data(sandbox, sender, customers, schedule_at_provider="on", window=window.pk)
    page = manager_client.post(reverse("campaigns:create"), data).content.decode()
    assert "cannot hold a schedule; let smsportal hold it instead" in page
    assert "needs a send time" in page
    assert "choose one or the other" in page
    assert not Campaign.objects.exists()


def test_the_providers_lists_are_refused_where_they_cannot_be_sent_to(
    manager_client, sandbox, sender, customers
):
    data = composer_data(
        sandbox,
        sender,
        customers,
        provider_lists="6415907d0d37a, bad id!",
        text="Hi {{ first_name }}",
    )
    page = manager_client.post(reverse("campaigns:create"), data).content.decode()
    assert "cannot send to contact lists kept at its provider" in page
    assert "not both" in page
    assert "placeholders cannot be filled in" in page
    assert "is not a list id" in page
    assert not Campaign.objects.exists()


def test_an_analyst_can_neither_compose_nor_preview(client, analyst, draft):
    client.force_login(analyst)
    assert client.get(reverse("campaigns:create")).status_code == 403
    assert client.post(reverse("campaigns:preview"), {"text": "x"}).status_code == 403
    assert client.post(reverse("campaigns:edit_preview", args=[draft.pk])).status_code == 403


# ------------------------------------------------------------- campaign page


def launch(campaign, user, capture):
    from campaigns import services

    with capture(execute=True):
        services.campaign_launch(campaign=campaign, user=user)


def test_the_campaign_page_shows_progress_errors_and_audit(
    manager_client, manager, draft, django_capture_on_commit_callbacks
):
    launch(draft, manager, django_capture_on_commit_callbacks)
    page = manager_client.get(reverse("campaigns:detail", args=[draft.pk])).content.decode()

    assert "Delivery rate per minute" in page
    assert "data-chart=" in page
    assert "Errors by reason" in page
    errors = page.split('id="errors"')[1].split("</section>")[0]
    assert "badge-undelivered" in errors and "badge-rejected" in errors
    audit = page.split('id="audit"')[1]
    assert "mona" in audit
    # In words, the action's name kept as the cell's title.
    assert '<td data-label="What" title="campaign.launch">Launched</td>' in audit


def test_the_progress_part_refreshes_the_page_when_the_state_changed(manager_client, draft):
    url = reverse("campaigns:detail", args=[draft.pk]) + "?part=progress&state=running"
    response = manager_client.get(url, headers={"HX-Request": "true"})
    assert response.headers["HX-Refresh"] == "true"

    url = reverse("campaigns:detail", args=[draft.pk]) + "?part=progress&state=draft"
    response = manager_client.get(url, headers={"HX-Request": "true"})
    assert 'id="progress"' in response.content.decode()
    assert "<html" not in response.content.decode()


def test_a_live_pages_heading_follows_a_window_edited_meanwhile(manager_client, draft):
    """A window edited while the campaign page is open: the next poll brings
    the heading too (swapped in place), so it does not name the old hours
    beside a waiting box that already tells the new ones."""
    window = DeliveryWindow.objects.create(
        name="Evening", days=list(range(7)), start_time="17:00", end_time="18:00"
    )
    draft.window = window
    draft.state = Campaign.State.RUNNING
    draft.save()
    page = manager_client.get(reverse("campaigns:detail", args=[draft.pk])).content.decode()
    poll = page.split('id="progress" hx-get="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    heading = page.split('id="campaign-subtitle"', 1)[1].split("</p>", 1)[0]
    assert "window Mon–Sun 17:00–18:00" in heading and "hx-swap-oob" not in heading

    DeliveryWindow.objects.filter(pk=window.pk).update(start_time="14:00", end_time="15:00")
    part = manager_client.get(poll, headers={"HX-Request": "true"}).content.decode()
    assert 'id="progress"' in part and "<html" not in part
    heading = part.split('id="campaign-subtitle"', 1)[1].split("</p>", 1)[0]
    assert heading.startswith(' hx-swap-oob="true">')
    assert "window Mon–Sun 14:00–15:00" in heading and "17:00" not in part


# --------------------------------------------------------------- message log


def make_messages(campaign, n, *, start=0, **fields):
    fields.setdefault("account", campaign.account)
    Message.objects.bulk_create(
        Message(
            campaign=campaign,
            phone=f"+49151000{start + i:05d}",
            country="DE",
            submitted_at=timezone.now(),
            **fields,
        )
        for i in range(n)
    )


def test_the_message_log_filters_by_campaign_status_provider_date_and_number(
    manager_client, draft, sandbox
):
    from providers.models import ProviderAccount

    other = ProviderAccount.objects.create(name="Other", kind="sandbox")
    make_messages(draft, 3, status=Status.DELIVERED)
    make_messages(draft, 2, start=100, status=Status.REJECTED, account=other)
    old = Message.objects.filter(status=Status.REJECTED).first()
    Message.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=10))
    url = reverse("campaigns:messages")

    def phones(**query):
        page = manager_client.get(url, query).content.decode()
        return sorted(p for p in Message.objects.values_list("phone", flat=True) if p in page)

    assert len(phones()) == 5
    assert len(phones(status="delivered")) == 3
    assert len(phones(account=other.pk)) == 2
    assert phones(phone="4915100000101") == ["+4915100000101"]
    since = (timezone.now() - dt.timedelta(days=2)).date().isoformat()
    assert old.phone not in phones(since=since)
    assert len(phones(since=since)) == 4
    assert len(phones(campaign=draft.pk, status="rejected", account=other.pk)) == 2


def test_the_message_log_explains_a_wrong_filter_beside_it(manager_client, draft):
    make_messages(draft, 2, status=Status.DELIVERED)
    page = manager_client.get(
        reverse("campaigns:messages"), {"phone": "abc", "status": "delivered"}
    ).content.decode()

    assert 'id="id_phone_error"' in page
    assert "Search by number uses digits" in page
    # The filters that are right still apply.
    assert page.count("badge-delivered") == 2


def test_the_message_log_pages_by_keyset(manager_client, draft):
    make_messages(draft, 60, status=Status.DELIVERED)
    first = manager_client.get(reverse("campaigns:messages"), {"status": "delivered"})
    page = first.content.decode()
    newest = Message.objects.order_by("-id")
    assert newest[0].phone in page and newest[50].phone not in page
    after = newest[49].pk
    assert f"?status=delivered&amp;after={after}" in page

    second = manager_client.get(
        reverse("campaigns:messages"), {"status": "delivered", "after": after}
    ).content.decode()
    assert newest[50].phone in second and newest[0].phone not in second
    assert "⇤ Newest" in second


def test_the_message_log_answers_htmx_with_the_results_only(manager_client, draft):
    make_messages(draft, 1)
    response = manager_client.get(reverse("campaigns:messages"), headers={"HX-Request": "true"})
    page = response.content.decode()
    assert page.lstrip().startswith('<div id="results"')


def test_the_message_log_costs_the_same_queries_for_one_row_or_fifty(manager_client, draft):
    make_messages(draft, 1)
    url = reverse("campaigns:messages") + "?status=pending"
    one = queries_for(manager_client, url)
    make_messages(draft, 80, start=1)
    assert queries_for(manager_client, url) == one


def test_a_message_page_shows_its_history_and_raw_payloads(
    manager_client, manager, draft, django_capture_on_commit_callbacks
):
    launch(draft, manager, django_capture_on_commit_callbacks)
    message = draft.messages.get(phone="+4915112345601")
    page = manager_client.get(reverse("campaigns:message", args=[message.pk])).content.decode()

    assert "Delivery report" in page
    assert message.provider_message_id in page
    # Each history row says whether it moved the message, in words: here
    # the report came before the answer to the submission, which then
    # moved nothing.
    assert {event.applied for event in message.events.all()} == {True, False}
    for event in message.events.all():
        said = "yes" if event.applied else "no (the message was already at or past it)"
        assert f'<td data-label="Applied">{said}</td>' in page


@pytest.mark.parametrize(
    ("status", "sent", "shown"),
    [
        (Status.DELIVERED, None, "yes; no time given by the provider"),
        (Status.UNDELIVERED, None, "yes; no time given by the provider"),
        (Status.DELIVERED, dt.datetime(2026, 3, 2, 9, 30, 5, tzinfo=dt.UTC), "2026-03-02 09:30:05"),
        (Status.REJECTED, None, "<dt>Sent</dt><dd>—</dd>"),
        (Status.PENDING, None, "<dt>Sent</dt><dd>—</dd>"),
    ],
)
def test_a_message_page_says_sent_without_a_time_as_such(
    manager_client, draft, settings, status, sent, shown
):
    settings.TIME_ZONE = "UTC"
    make_messages(draft, 1, status=status, sent_at=sent)
    message = draft.messages.get()
    page = manager_client.get(reverse("campaigns:message", args=[message.pk])).content.decode()
    assert shown in page
    assert ("data-sent-unknown" in page) == (sent is None and status in WENT_OUT)


def test_the_campaign_list_costs_the_same_queries_for_one_campaign_or_many(manager_client, draft):
    url = reverse("campaigns:index")
    one = queries_for(manager_client, url)
    for n in range(12):
        Campaign.objects.create(name=f"C{n}", text="Hi", sender=draft.sender, account=draft.account)
    assert queries_for(manager_client, url) == one


# ---------------------------------------------------------------- dashboard


def test_home_sums_the_counters_for_today_and_the_month(manager_client, draft, sandbox):
    today = timezone.now().date()

    def counter(status, n, day=today, cost="0"):
        CampaignCounter.objects.create(
            campaign=draft,
            account=sandbox,
            country="DE",
            day=day,
            status=status,
            count=n,
            actual_cost=Decimal(cost),
        )

    counter(Status.DELIVERED, 8, cost="0.6")
    counter(Status.UNDELIVERED, 2, cost="0.15")
    older = today.replace(day=1) if today.day > 1 else today
    counter(Status.DELIVERED, 10, day=older, cost="0.75")
    page = manager_client.get(reverse("home")).content.decode()

    sent_today = 10 if older != today else 20
    assert f'data-stat="today-sent"><span data-number="{sent_today}">' in page
    assert 'data-stat="month-sent"><span data-number="20">' in page
    assert 'data-stat="month-rate">90.0%' in page
    # Every account is in EUR: the total is money in EUR.
    assert 'data-stat="month-cost">1.50 EUR<' in page
    assert "Sandbox" in page.split('id="cost-by-provider"')[1]


def test_home_welcomes_a_new_user_with_the_first_steps(manager_client):
    page = manager_client.get(reverse("home")).content.decode()
    assert "Welcome to smsportal" in page
    assert reverse("contacts:lists") in page
    assert reverse("campaigns:create") in page


def test_home_costs_the_same_queries_for_one_campaign_or_many(manager_client, draft, sandbox):
    def running(name):
        campaign = Campaign.objects.create(
            name=name, text="Hi", sender=draft.sender, account=sandbox, state="running"
        )
        CampaignCounter.objects.create(
            campaign=campaign, account=sandbox, day=timezone.now().date(), status="pending", count=5
        )

    running("First")
    url = reverse("home")
    one = queries_for(manager_client, url)
    for n in range(12):
        running(f"C{n}")
    assert queries_for(manager_client, url) == one


# ------------------------------------------------------- DLT and windows


def dlt_data(sender, **extra):
    data = {
        "name": "Offer",
        "template_id": "1107160000000012345",
        "principal_entity_id": "1101000000000001",
        "header": sender.pk,
        "category": "promotional",
        "content": "Dear {#var#}, our sale starts today.",
    }
    data.update(extra)
    return data


def test_a_manager_registers_a_dlt_template_and_an_admin_approves_it(
    client, manager, admin_user, sender
):
    client.force_login(manager)
    response = client.post(reverse("campaigns:dlt"), dlt_data(sender))
    template = DLTTemplate.objects.get()
    assert response.status_code == 302
    assert template.status == Approval.PENDING

    decide = reverse("campaigns:dlt_decide", args=[template.pk])
    assert client.post(decide, {"decision": "approve"}).status_code == 403
    client.force_login(admin_user)
    client.post(decide, {"decision": "approve"})
    template.refresh_from_db()
    assert template.status == Approval.APPROVED
    assert AuditLogEntry.objects.filter(action="dlt.approve", actor=admin_user).exists()


def test_a_dlt_template_in_the_wrong_placeholder_style_is_refused(manager_client, sender):
    response = manager_client.post(
        reverse("campaigns:dlt"), dlt_data(sender, content="Dear {{ name }}, hello")
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Use {#var#} for variable parts" in page
    assert not DLTTemplate.objects.exists()


def test_a_message_is_tested_against_a_template(manager_client, sender):
    template = DLTTemplate.objects.create(**dlt_data(sender, header=sender))
    url = reverse("campaigns:dlt_test")
    good = manager_client.post(
        url,
        {"template": template.pk, "text": "Dear Ravi, our sale starts today."},
        headers={"HX-Request": "true"},
    ).content.decode()
    bad = manager_client.post(
        url,
        {"template": template.pk, "text": "Dear Ravi, our sale starts tomorrow."},
        headers={"HX-Request": "true"},
    ).content.decode()

    assert "Matches 1107160000000012345" in good
    assert "Does not match 1107160000000012345" in bad
    assert bad.lstrip().startswith('<form id="dlt-tester"')


def test_the_tester_asks_for_a_template_first_while_there_is_none(manager_client, sender):
    page = manager_client.get(reverse("campaigns:dlt")).content.decode()
    assert "Register a template first" in page
    assert 'name="text"' not in page

    DLTTemplate.objects.create(**dlt_data(sender, header=sender))
    page = manager_client.get(reverse("campaigns:dlt")).content.decode()
    assert "Register a template first" not in page
    assert 'name="text"' in page


def test_a_window_is_summarised_in_plain_words_while_typed(manager_client):
    data = {
        "name": "Office hours",
        "days": [0, 1, 2, 3, 4],
        "start_time": "09:00",
        "end_time": "18:00",
        "recipient_local": "on",
        "time_zone": "Europe/Berlin",
    }
    summary = manager_client.post(reverse("campaigns:window_summary"), data).content.decode()
    assert "Mon–Fri 09:00–18:00 recipient&#x27;s time" in summary

    response = manager_client.post(reverse("campaigns:windows"), data, follow=True)
    assert DeliveryWindow.objects.get().summary() == "Mon–Fri 09:00–18:00 recipient's time"
    assert "Mon–Fri 09:00–18:00 recipient&#x27;s time" in response.content.decode()


def test_a_window_without_days_is_explained(manager_client):
    response = manager_client.post(
        reverse("campaigns:windows"),
        {"name": "Never", "start_time": "09:00", "end_time": "18:00", "time_zone": "UTC"},
    )
    assert 'id="id_days_error"' in response.content.decode()
    assert not DeliveryWindow.objects.exists()


def test_the_campaign_page_s_daily_figures_leave_out_the_test_send_like_its_progress(
    manager_client, draft, manager, django_capture_on_commit_callbacks
):
    from campaigns import selectors, services

    with django_capture_on_commit_callbacks(execute=True):
        services.test_send(campaign=draft, phone="+4915112345601", user=manager)
        services.campaign_launch(campaign=draft, user=manager)
    counts = selectors.campaign_counts([draft.pk])[draft.pk]
    (day, submitted, delivered, finished, cost), *more = selectors.campaign_by_day(draft.pk)

    assert not more
    # The sandbox: two delivered, one undelivered, one rejected (and the
    # test, delivered, on top).
    assert sum(counts.by_status.values()) == 4
    assert (submitted, delivered, finished) == (4, 2, 4)
    assert cost == draft.messages.aggregate(total=Sum("actual_cost"))["total"]
    response = manager_client.get(reverse("campaigns:detail", args=[draft.pk]))
    rate = json.loads(response.context["rate_chart"])["data"]["datasets"][0]["data"]
    sends = json.loads(response.context["sends_chart"])["data"]["datasets"]
    assert rate == [50.0]
    assert [d["data"] for d in sends] == [[4], [2]]
