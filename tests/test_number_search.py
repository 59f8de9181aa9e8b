"""Numbers as people type them into the message log and the contact search:
national ones in the site's country ("0176 10033621"), international ones
with spaces ("+49 176 10033621"), or the first digits of either."""

import pytest
from django.urls import reverse

from campaigns.models import Message
from contacts import services as contact_services
from contacts.models import Contact
from smsportal.phones import search_prefix

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("typed", "region", "prefix"),
    [
        ("0176 10033621", "DE", "+4917610033621"),
        ("+49 176 10033621", "DE", "+4917610033621"),
        ("+49 176 10033621", "", "+4917610033621"),
        ("0049 176 10033621", "", "+4917610033621"),
        ("176 10033621", "DE", "+4917610033621"),
        ("0176 1003", "DE", "+491761003"),
        ("0176", "DE", "+49176"),
        ("4915", "", "+4915"),
        ("+33 6", "DE", "+336"),
        ("(0)176-100", "DE", "+49176100"),
        ("", "DE", ""),
    ],
)
def test_a_typed_number_becomes_the_start_of_e164_numbers(typed, region, prefix):
    assert search_prefix(typed, region) == prefix


@pytest.fixture
def messages(draft, sandbox):
    for phone in ("+4917610033621", "+4915112345601", "+33612349999"):
        Message.objects.create(campaign=draft, phone=phone, account=sandbox, text="Hi")


def found(client, typed):
    page = client.get(reverse("campaigns:messages"), {"phone": typed}).content.decode()
    rows = page.split("<tbody>")[1].split("</tbody>")[0] if "<tbody>" in page else ""
    return sorted(m.phone for m in Message.objects.all() if f"/messages/{m.pk}/" in rows)


def test_the_message_log_finds_a_national_number_in_the_site_country(
    manager_client, messages, settings
):
    settings.DEFAULT_COUNTRY = "DE"
    for typed in ("0176 10033621", "+49 176 10033621", "0176 1003", "4917610033621"):
        assert found(manager_client, typed) == ["+4917610033621"], typed
    assert found(manager_client, "0151") == ["+4915112345601"]
    assert found(manager_client, "+33") == ["+33612349999"]


def test_the_contact_search_finds_a_national_number_in_the_site_country(
    manager_client, customers, settings
):
    settings.DEFAULT_COUNTRY = "DE"
    contact_services.list_add_contacts(
        contact_list=customers, rows=[{"phone": "+4917610033621", "first_name": "Ida"}]
    )
    ida = Contact.objects.get(phone="+4917610033621")
    for typed in ("0176 10033621", "+49 176 10033621", "0176 1003"):
        page = manager_client.get(reverse("contacts:contacts"), {"q": typed}).content.decode()
        assert f"/lists/contacts/{ida.pk}/" in page, typed
        assert page.count("/lists/contacts/") - page.count('href="/lists/contacts/"') == 1
