"""Cost and delivery roll-ups from the campaign counters."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.models import CampaignCounter
from campaigns.services import squash_counters
from providers.models import ProviderAccount

pytestmark = pytest.mark.django_db

TODAY = timezone.now().date()


def test_cost_by_account_and_country(api, sent, sandbox):
    body = api.get("/api/v1/reports/cost/?group_by=account&group_by=country").json()
    assert body["group_by"] == ["account", "country"]
    rows = {r["country"]: r for r in body["results"]}
    assert rows["DE"]["account"] == sandbox.pk and rows["DE"]["account_name"] == "Sandbox"
    assert rows["DE"]["messages"] == 3 and rows["DE"]["segments"] == 3
    assert rows["DE"]["estimated_cost"] == "0.22500"
    assert rows["DE"]["actual_cost"] == "0.22500"
    # Rejected: estimated from the rate card, but nothing charged.
    assert rows["FR"]["estimated_cost"] == "0.06800"
    assert rows["FR"]["actual_cost"] == "0.00000"
    assert {r["currency"] for r in body["results"]} == {"EUR"}
    assert rows["DE"]["day"] is None and rows["DE"]["campaign"] is None


def test_cost_by_day_and_campaign_is_the_same_total(api, sent):
    body = api.get("/api/v1/reports/cost/?group_by=day&group_by=campaign").json()
    [row] = body["results"]
    assert row["day"] == TODAY.isoformat()
    assert row["campaign"] == sent.pk and row["campaign_name"] == "Spring sale"
    assert row["messages"] == 4
    assert Decimal(row["actual_cost"]) == Decimal("0.225")


def test_delivery_by_country(api, sent):
    body = api.get("/api/v1/reports/delivery/?group_by=country").json()
    rows = {r["country"]: r for r in body["results"]}
    assert rows["DE"]["counts"]["delivered"] == 2
    assert rows["DE"]["counts"]["undelivered"] == 1
    assert rows["DE"]["counts"]["pending"] == 0
    assert rows["DE"]["submitted"] == 3
    assert rows["DE"]["delivery_rate"] == round(2 / 3, 4)
    assert rows["FR"]["counts"]["rejected"] == 1 and rows["FR"]["delivery_rate"] == 0.0


def test_reports_are_the_same_after_counters_are_squashed(api, sent):
    before = api.get("/api/v1/reports/delivery/?group_by=country").json()
    CampaignCounter.objects.filter(campaign=sent).update(is_squashed=False)
    for _ in range(25):
        CampaignCounter.objects.create(
            campaign=sent, account=sent.account, day=TODAY, status="pending", country="DE"
        )
    squash_counters()
    assert api.get("/api/v1/reports/delivery/?group_by=country").json() == before


def test_reports_keep_currencies_apart(api, sent, sandbox):
    dollars = ProviderAccount.objects.create(name="US", kind="sandbox", currency="USD")
    CampaignCounter.objects.create(
        campaign=sent,
        account=dollars,
        day=TODAY,
        status="delivered",
        country="US",
        count=1,
        segments=1,
        estimated_cost=Decimal("0.01"),
        actual_cost=Decimal("0.01"),
    )
    rows = api.get("/api/v1/reports/cost/?group_by=day").json()["results"]
    assert sorted((r["currency"], r["messages"]) for r in rows) == [("EUR", 4), ("USD", 1)]


def test_reports_cover_only_the_days_asked_for(api, sent):
    CampaignCounter.objects.filter(campaign=sent).update(day=TODAY - dt.timedelta(days=60))
    assert api.get("/api/v1/reports/cost/").json()["results"] == []
    since = (TODAY - dt.timedelta(days=61)).isoformat()
    until = (TODAY - dt.timedelta(days=59)).isoformat()
    body = api.get(f"/api/v1/reports/cost/?date_from={since}&date_to={until}").json()
    assert [r["messages"] for r in body["results"]] == [4]


def test_reports_filter_by_campaign_account_and_country(api, sent, sandbox):
    url = "/api/v1/reports/cost/?group_by=country"
    assert len(api.get(f"{url}&campaign={sent.pk}").json()["results"]) == 2
    assert api.get(f"{url}&campaign={sent.pk + 1}").json()["results"] == []
    assert api.get(f"{url}&account={sandbox.pk + 1}").json()["results"] == []
    assert [r["country"] for r in api.get(f"{url}&country=fr").json()["results"]] == ["FR"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("group_by=week", "group_by"),
        ("date_from=2026-11-02&date_to=2026-11-01", "date_to"),
        ("date_from=2024-01-01&date_to=2026-01-01", "date_to"),
        ("date_from=yesterday", "date_from"),
        ("currency=EUR", "currency"),
    ],
)
def test_a_bad_report_parameter_is_a_json_400(api, query, parameter):
    response = api.get(f"/api/v1/reports/delivery/?{query}")
    assert response.status_code == 400
    assert parameter in response.json()["errors"]
