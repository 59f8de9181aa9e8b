"""A page costs the same number of queries whatever its size."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import Campaign, Message
from contacts import services as contact_services
from contacts.models import Contact, Suppression

pytestmark = pytest.mark.django_db


def queries(api, url):
    # A first request warms what is cached per process (content types, etc.).
    api.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url)
    assert response.status_code == 200, response.content
    return len(captured), len(response.json()["results"])


def more_campaigns(sent, n):
    for i in range(n):
        campaign = Campaign.objects.create(
            name=f"Copy {i}", text="x", sender=sent.sender, account=sent.account
        )
        campaign.lists.set(sent.lists.all())


@pytest.mark.parametrize(
    "path", ["/api/v1/messages/", "/api/v1/contacts/", "/api/v1/suppressions/", "/api/v1/lists/"]
)
def test_list_queries_do_not_grow_with_the_page(api, sent, path):
    Suppression.objects.bulk_create(Suppression(phone=f"+4930{n:07d}") for n in range(30))
    Contact.objects.bulk_create(Contact(phone=f"+4930{n:07d}") for n in range(30))
    for n in range(3):
        contact_services.list_create(name=f"List {n}")
    small, got_small = queries(api, f"{path}?page_size=1")
    large, got_large = queries(api, f"{path}?page_size=50")
    assert got_small == 1 and got_large > 1
    assert small == large


def test_campaign_queries_do_not_grow_with_the_page(api, sent):
    more_campaigns(sent, 5)
    small, got_small = queries(api, "/api/v1/campaigns/?page_size=1")
    large, got_large = queries(api, "/api/v1/campaigns/?page_size=50")
    assert (got_small, got_large) == (1, 6)
    assert small == large


def test_a_message_page_reads_no_other_table_per_row(api, sent):
    assert Message.objects.count() == 4
    count, _ = queries(api, "/api/v1/messages/?page_size=4&status=delivered&phone_prefix=49")
    small, _ = queries(api, "/api/v1/messages/?page_size=1")
    assert count == small


def test_lists_carry_their_stored_member_count_without_counting_per_request(
    api, customers, django_assert_max_num_queries
):
    from contacts.models import ListMembership

    with django_assert_max_num_queries(6) as captured:
        body = api.get("/api/v1/lists/").json()
    assert [row["member_count"] for row in body["results"]] == [
        ListMembership.objects.filter(contact_list=customers).count()
    ]
    assert not any("COUNT(" in q["sql"].upper() for q in captured.captured_queries)
