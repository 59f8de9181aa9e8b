"""GET /api/v1/clicks/ (read-only, filters, CSV like the other lists), and
the click counts on campaigns and messages: the figures the campaign page
shows, and no query per row."""

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns import engagement, links
from campaigns import services as campaign_services
from campaigns.models import Campaign, Click, ShortLink
from smsportal.api import serializers

pytestmark = pytest.mark.django_db

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
WHATSAPP = "WhatsApp/2.23.20.0 A"


@pytest.fixture
def launched(draft, manager, django_capture_on_commit_callbacks):
    draft.text = "Hi {{ first_name|default:'there' }}: https://shop.example.com/sale"
    draft.save()
    with django_capture_on_commit_callbacks(execute=True):
        campaign_services.campaign_launch(campaign=draft, user=manager)
    return draft


def tap(client, phone, agent=IPHONE, method="get"):
    code = ShortLink.objects.get(message__phone=phone).code
    response = getattr(client, method)(f"/l/{code}", HTTP_USER_AGENT=agent)
    assert response.status_code == 302
    return code


@pytest.fixture
def clicked(launched, client):
    """Anna tapped twice, her chat app fetched a preview, the second
    recipient tapped once, and something sent a HEAD request."""
    tap(client, "+4915112345601")
    tap(client, "+4915112345601")
    tap(client, "+4915112345601", WHATSAPP)
    tap(client, "+4915112345602")
    tap(client, "+4915112345602", method="head")
    return launched


def rows_of(response):
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_clicks_are_listed_newest_first_with_what_made_them(api, clicked):
    body = api.get("/api/v1/clicks/").json()
    results = body["results"]
    assert [r["id"] for r in results] == sorted((r["id"] for r in results), reverse=True)
    assert len(results) == Click.objects.count() == 5
    first = results[-1]
    link = ShortLink.objects.get(message__phone="+4915112345601")
    assert first["campaign"] == clicked.pk
    assert first["message"] == link.message_id
    assert first["link"] == link.code
    assert first["url"] == "https://shop.example.com/sale"
    assert first["source"] == "link"
    assert first["agent"] == "mobile" and first["is_bot"] is False
    assert first["variant"] is None
    agents = sorted((r["agent"], r["is_bot"]) for r in results)
    assert agents == [
        ("head", True),
        ("mobile", False),
        ("mobile", False),
        ("mobile", False),
        ("preview", True),
    ]
    one = api.get(f"/api/v1/clicks/{first['id']}/").json()
    assert one == first


def test_the_clicks_filter_by_campaign_message_time_and_bot(api, clicked, sender, sandbox):
    message_id = ShortLink.objects.get(message__phone="+4915112345602").message_id
    other = Campaign.objects.create(name="Other", text="x", sender=sender, account=sandbox)
    links.record_click(campaign_id=other.pk, agent="desktop")
    old = Click.objects.filter(campaign=clicked).order_by("id").first()
    Click.objects.filter(pk=old.pk).update(at=timezone.now() - dt.timedelta(days=3))

    def ids(**query):
        return sorted(r["id"] for r in api.get("/api/v1/clicks/", query).json()["results"])

    assert len(ids()) == 6
    assert len(ids(campaign=clicked.pk)) == 5
    assert len(ids(campaign=other.pk)) == 1
    assert len(ids(message=message_id)) == 2
    assert len(ids(campaign=clicked.pk, is_bot="false")) == 3
    assert len(ids(campaign=clicked.pk, is_bot="true")) == 2
    since = (timezone.now() - dt.timedelta(days=1)).date().isoformat()
    assert old.pk not in ids(since=since)
    assert ids(until=since) == [old.pk]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ({"campaign": "x"}, "campaign"),
        ({"is_bot": "maybe"}, "is_bot"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-11-02", "until": "2026-11-01"}, "until"),
        ({"clicked": "1"}, "clicked"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(api, query, name):
    response = api.get("/api/v1/clicks/", query)
    assert response.status_code == 400
    assert name in response.json()["errors"]


def test_the_clicks_export_as_csv_in_the_documented_columns(api, clicked):
    response = api.get("/api/v1/clicks/?format=csv&is_bot=false&escape=none")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = rows_of(response)
    assert list(rows[0]) == [c.header for c in serializers.CLICK_COLUMNS]
    assert len(rows) == 3
    assert {r["url"] for r in rows} == {"https://shop.example.com/sale"}
    assert {r["is_bot"] for r in rows} == {"false"}
    json_rows = api.get("/api/v1/clicks/?is_bot=false").json()["results"]
    assert [int(r["id"]) for r in rows] == [r["id"] for r in json_rows]


def test_campaigns_and_messages_carry_their_clicks(api, clicked):
    figures = engagement.campaign_figures(clicked)
    campaign = api.get(f"/api/v1/campaigns/{clicked.pk}/").json()
    assert (campaign["clicks"], campaign["unique_clicks"]) == (3, 2)
    assert (campaign["clicks"], campaign["unique_clicks"]) == (
        figures.clicks,
        figures.unique_clicks,
    )
    rows = rows_of(api.get("/api/v1/campaigns/?format=csv"))
    assert (rows[0]["clicks"], rows[0]["unique_clicks"]) == ("3", "2")

    messages = {m["phone"]: m["clicks"] for m in api.get("/api/v1/messages/").json()["results"]}
    # Previews and HEAD requests are not clicks.
    assert messages == {
        "+4915112345601": 2,
        "+4915112345602": 1,
        "+4915112340000": 0,
        "+33612349999": 0,
    }
    csv_rows = rows_of(api.get("/api/v1/messages/?format=csv&escape=none"))
    assert {r["phone"]: r["clicks"] for r in csv_rows}["+4915112345601"] == "2"


def test_click_counts_cost_one_query_per_page_not_per_row(api, clicked, sender, sandbox):
    def queries(url):
        api.get(url)
        with CaptureQueriesContext(connection) as captured:
            assert api.get(url).status_code == 200
        return len(captured)

    small = queries("/api/v1/campaigns/?page_size=1")
    for n in range(4):
        other = Campaign.objects.create(name=f"C{n}", text="x", sender=sender, account=sandbox)
        links.record_click(campaign_id=other.pk, agent="mobile")
    assert queries("/api/v1/campaigns/?page_size=50") == small
    assert queries("/api/v1/messages/?page_size=1") == queries("/api/v1/messages/?page_size=50")
    assert queries("/api/v1/clicks/?page_size=1") == queries("/api/v1/clicks/?page_size=50")
