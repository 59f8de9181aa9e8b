"""Each list endpoint's filters, and the JSON errors for bad ones."""

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.models import Message
from contacts import services as contact_services
from contacts.models import Contact, ContactList, Suppression
from providers.status import Status

pytestmark = pytest.mark.django_db


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def phones(response):
    assert response.status_code == 200, response.content
    return sorted(row["phone"] for row in response.json()["results"])


def test_messages_filter_by_status(api, sent):
    response = api.get("/api/v1/messages/?status=delivered")
    assert phones(response) == ["+4915112345601", "+4915112345602"]
    response = api.get("/api/v1/messages/?status=undelivered&status=rejected")
    assert phones(response) == ["+33612349999", "+4915112340000"]


def test_messages_filter_by_campaign_and_account(api, sent, sandbox):
    assert len(ids(api.get(f"/api/v1/messages/?campaign={sent.pk}&account={sandbox.pk}"))) == 4
    assert ids(api.get(f"/api/v1/messages/?campaign={sent.pk + 1}")) == []
    assert ids(api.get(f"/api/v1/messages/?account={sandbox.pk + 1}")) == []


def test_messages_filter_by_number_prefix_and_country(api, sent):
    assert phones(api.get("/api/v1/messages/?phone=4915112345601")) == ["+4915112345601"]
    assert phones(api.get("/api/v1/messages/?phone=%2B4915112345601")) == ["+4915112345601"]
    assert phones(api.get("/api/v1/messages/?phone_prefix=33")) == ["+33612349999"]
    assert len(ids(api.get("/api/v1/messages/?country=de"))) == 3


def test_messages_filter_by_created_submitted_and_done_times(api, sent):
    Message.objects.filter(phone="+33612349999").update(
        created_at=timezone.now() - dt.timedelta(days=40),
        submitted_at=timezone.now() - dt.timedelta(days=40),
        done_at=timezone.now() - dt.timedelta(days=39),
    )
    month_ago = (timezone.now() - dt.timedelta(days=30)).date().isoformat()
    assert len(ids(api.get(f"/api/v1/messages/?created_after={month_ago}"))) == 3
    assert phones(api.get(f"/api/v1/messages/?created_before={month_ago}")) == ["+33612349999"]
    assert len(ids(api.get(f"/api/v1/messages/?submitted_after={month_ago}"))) == 3
    since = (timezone.now() - dt.timedelta(days=39, hours=1)).isoformat()
    until = (timezone.now() - dt.timedelta(days=38)).isoformat()
    response = api.get("/api/v1/messages/", {"done_after": since, "done_before": until})
    assert phones(response) == ["+33612349999"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("status=sent", "status"),
        ("created_after=last%20week", "created_after"),
        ("done_before=2026-02-30", "done_before"),
        ("campaign=abc", "campaign"),
        ("phone=12", "phone"),
        ("phone_prefix=49x", "phone_prefix"),
        ("country=DEU", "country"),
        ("stauts=delivered", "stauts"),
        ("created_after=2026-11-02&created_before=2026-11-01", "created_before"),
    ],
)
def test_a_bad_filter_is_a_json_400_naming_it(api, query, parameter):
    response = api.get(f"/api/v1/messages/?{query}")
    assert response.status_code == 400
    body = response.json()
    assert list(body["errors"]) == [parameter]
    assert parameter in body["message"]


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/v1/messages/", "created_after"),
        ("/api/v1/messages/", "done_before"),
        ("/api/v1/contacts/", "updated_after"),
        ("/api/v1/campaigns/", "launched_before"),
        ("/api/v1/suppressions/", "created_before"),
    ],
)
def test_an_unencoded_plus_in_a_time_is_a_400_saying_to_encode_it(api, sent, path, parameter):
    # As a shell or a hand-written URL sends it: the + arrives as a space.
    response = api.get(f"{path}?{parameter}=2026-11-01T08:00:00+01:00")
    assert response.status_code == 400
    body = response.json()
    assert list(body["errors"]) == [parameter]
    assert "Encode the + of a time zone offset as %2B" in body["errors"][parameter][0]
    assert "%2B" in body["message"]
    for offset in ("+0100", "+01", "+05:30"):
        response = api.get(f"{path}?{parameter}=2026-11-01T08:00:00.5{offset}")
        assert "%2B" in response.json()["errors"][parameter][0]
    # Encoded, the same time is taken.
    assert api.get(f"{path}?{parameter}=2026-11-01T08:00:00%2B01:00").status_code == 200


def test_other_bad_times_keep_the_general_hint(api):
    for value in ("2026-11-01 25:00", "2026-11-01T08:00:00 bogus", "tomorrow 10:00"):
        response = api.get("/api/v1/messages/", {"created_after": value})
        assert response.status_code == 400
        message = response.json()["errors"]["created_after"][0]
        assert message.startswith("Give a date (2026-11-01) or a time in ISO 8601"), value


def test_a_bad_cursor_is_a_json_error(api):
    response = api.get("/api/v1/messages/?cursor=garbage")
    assert response.status_code == 400
    assert "cursor" in response.json()["message"]


def test_cursor_pages_walk_every_message_once(api, sent):
    seen, url = [], "/api/v1/messages/?page_size=3"
    while url:
        body = api.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert seen == sorted(Message.objects.values_list("id", flat=True), reverse=True)


def test_contacts_filter_by_list_country_number_and_time(api, customers):
    other = contact_services.list_create(name="Other")
    contact_services.list_add_contacts(contact_list=other, rows=[{"phone": "+447400123456"}])
    assert len(ids(api.get(f"/api/v1/contacts/?list={customers.pk}"))) == 4
    assert phones(api.get("/api/v1/contacts/?country=GB")) == ["+447400123456"]
    assert phones(api.get("/api/v1/contacts/?phone_prefix=+4474")) == ["+447400123456"]
    tomorrow = (timezone.now() + dt.timedelta(days=1)).date().isoformat()
    assert ids(api.get(f"/api/v1/contacts/?created_after={tomorrow}")) == []
    assert len(ids(api.get(f"/api/v1/contacts/?updated_before={tomorrow}"))) == 5


def test_contacts_say_whether_they_are_suppressed(api, customers):
    Suppression.objects.create(phone="+4915112345601", reason="stop")
    rows = api.get("/api/v1/contacts/?phone=+4915112345601").json()["results"]
    assert rows[0]["suppressed"] is True
    rows = api.get("/api/v1/contacts/?phone=+4915112345602").json()["results"]
    assert rows[0]["suppressed"] is False


def test_a_lists_contacts_are_only_its_members(api, customers):
    other = contact_services.list_create(name="Other")
    contact_services.list_add_contacts(contact_list=other, rows=[{"phone": "+447400123456"}])
    assert phones(api.get(f"/api/v1/lists/{other.pk}/contacts/")) == ["+447400123456"]
    assert phones(api.get(f"/api/v1/lists/{customers.pk}/contacts/?country=FR")) == ["+33612349999"]
    assert api.get(f"/api/v1/lists/{other.pk + customers.pk}/contacts/").status_code == 404
    response = api.get(f"/api/v1/lists/{other.pk}/contacts/?list=1")
    assert response.status_code == 400


def test_lists_filter_by_name(api, customers):
    contact_services.list_create(name="VIP")
    assert [r["name"] for r in api.get("/api/v1/lists/?name=vi").json()["results"]] == ["VIP"]
    assert api.get(f"/api/v1/lists/{customers.pk}/").json()["name"] == "Customers"


def test_suppressions_filter_by_reason_and_number(api):
    Suppression.objects.create(phone="+4915112345601", reason="stop")
    Suppression.objects.create(phone="+33612349999", reason="manual")
    assert phones(api.get("/api/v1/suppressions/?reason=stop")) == ["+4915112345601"]
    assert phones(api.get("/api/v1/suppressions/?phone_prefix=33")) == ["+33612349999"]
    response = api.get("/api/v1/suppressions/?reason=angry")
    assert response.status_code == 400
    assert "reason" in response.json()["errors"]


def test_campaigns_filter_by_state_and_carry_their_counters(api, sent, draft):
    assert ids(api.get("/api/v1/campaigns/?state=draft")) == []
    body = api.get(f"/api/v1/campaigns/?state=completed&state=running&account={sent.account_id}")
    row = body.json()["results"][0]
    assert row["counts"][Status.DELIVERED] == 2
    assert row["counts"][Status.PENDING] == 0
    assert row["recipients"] == 4 and row["submitted"] == 4
    assert row["delivery_rate"] == 0.5
    assert row["currency"] == "EUR"
    assert row["estimated_cost"] == "0.29300"
    assert row["actual_cost"] == "0.22500"
    assert row["lists"] == [ContactList.objects.get().pk]
    detail = api.get(f"/api/v1/campaigns/{sent.pk}/").json()
    assert detail["counts"] == row["counts"]


def test_a_contact_and_a_message_are_readable_one_by_one(api, sent):
    message = Message.objects.get(phone="+33612349999")
    assert api.get(f"/api/v1/messages/{message.pk}/").json()["status"] == "rejected"
    contact = Contact.objects.get(phone="+33612349999")
    assert api.get(f"/api/v1/contacts/{contact.pk}/").json()["first_name"] == "Lucas"
    assert api.get(f"/api/v1/messages/{message.pk + 100}/").status_code == 404
