"""Engagement figures (campaigns/engagement.py) against the database: clicks
by people with previews and bots apart, unique clicks and the click rate of
delivered, conversions and revenue per currency, cost and return on spend,
per variant; the campaign page, the message page and the message log
showing them; and the segment condition "clicked in campaign X"."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db.models import Count, Sum
from django.urls import reverse
from django.utils import timezone

from campaigns import abtest, conversions, engagement, links, selectors
from campaigns import services as campaign_services
from campaigns.models import Campaign, CampaignCounter, Click, Conversion, Message, ShortLink
from contacts import segments
from contacts.models import Contact, ContactList, ListMembership, Segment
from providers.status import Status
from smsportal.percent import percent
from smsportal.templatetags.ui import format_money

pytestmark = pytest.mark.django_db

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"
PREVIEWS = (
    "WhatsApp/2.23.20.0 A",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "TelegramBot (like TwitterBot)",
)
ANNA, SECOND, PAUL, LUCAS = "+4915112345601", "+4915112345602", "+4915112340000", "+33612349999"


@pytest.fixture
def launched(draft, manager, django_capture_on_commit_callbacks):
    """The draft with a link, sent through the sandbox: Anna and the second
    number delivered, Paul undelivered, Lucas rejected."""
    draft.text = "Hi {{ first_name|default:'there' }}, 20% off: https://shop.example.com/sale"
    draft.save()
    with django_capture_on_commit_callbacks(execute=True):
        campaign_services.campaign_launch(campaign=draft, user=manager)
    draft.refresh_from_db()
    return draft


def code_of(phone, campaign=None) -> str:
    links_of = ShortLink.objects.filter(message__phone=phone)
    if campaign is not None:
        links_of = links_of.filter(campaign_id=campaign.pk)
    return links_of.get().code


def tap(client, phone, agent=IPHONE, method="get"):
    """A request for the recipient's short link through the real redirect."""
    response = getattr(client, method)(f"/l/{code_of(phone)}", HTTP_USER_AGENT=agent)
    assert response.status_code == 302
    assert response["Location"] == "https://shop.example.com/sale"


@pytest.fixture
def clicked(launched, client):
    """Anna taps twice (phone and laptop), her chat apps fetch previews, the
    second recipient taps once, and a HEAD request checks the link."""
    tap(client, ANNA)
    tap(client, ANNA, WINDOWS)
    for agent in PREVIEWS:
        tap(client, ANNA, agent)
    tap(client, SECOND)
    tap(client, SECOND, method="head")
    return launched


def convert(phone, value=None, currency="", ref=""):
    return conversions.record_conversion(
        code=code_of(phone), value=value, currency=currency, external_id=ref, source="api"
    )[0]


# -- what the database holds, counted here without engagement.py ----------------------------


def db_counts(campaign):
    people = Click.objects.filter(campaign=campaign, is_bot=False, message__is_test=False)
    delivered = Message.objects.filter(
        campaign=campaign, is_test=False, status=Status.DELIVERED
    ).count()
    finished = Message.objects.filter(
        campaign=campaign, is_test=False, status__in=selectors.OUTCOMES
    ).count()
    actual = Message.objects.filter(campaign=campaign, is_test=False).aggregate(
        s=Sum("actual_cost")
    )["s"]
    return {
        "clicks": people.count(),
        "unique": people.values("message").distinct().count(),
        "previews": Click.objects.filter(campaign=campaign, is_bot=True).count(),
        "delivered": delivered,
        "finished": finished,
        "actual": actual,
    }


# -- the figures ----------------------------------------------------------------------------


def test_clicks_count_people_and_leave_previews_and_bots_apart(clicked):
    figures = engagement.campaign_figures(clicked)
    db = db_counts(clicked)

    assert (figures.clicks, figures.unique_clicks, figures.previews) == (3, 2, 5)
    assert (figures.clicks, figures.unique_clicks, figures.previews) == (
        db["clicks"],
        db["unique"],
        db["previews"],
    )
    assert figures.delivered == db["delivered"] == 2
    assert figures.finished == db["finished"] == 4
    assert figures.sent == 4
    # Unique clicks of delivered: both delivered recipients clicked.
    assert figures.click_rate == 1.0
    assert figures.delivery_rate == 0.5
    agents = dict(
        Click.objects.filter(campaign=clicked)
        .values_list("agent")
        .annotate(n=Count("id"))
        .values_list("agent", "n")
    )
    assert agents == {"mobile": 2, "desktop": 1, "preview": 4, "head": 1}


def test_a_click_of_a_test_send_is_not_the_campaign_s(clicked, client, manager):
    test = campaign_services.test_send(campaign=clicked, phone="+4915112349876", user=manager)
    link = ShortLink.objects.get(message=test)
    client.get(f"/l/{link.code}", HTTP_USER_AGENT=IPHONE)
    assert Click.objects.filter(message=test).count() == 1
    conversions.record_conversion(code=link.code, value=100, source="api")

    figures = engagement.campaign_figures(clicked)
    assert (figures.clicks, figures.unique_clicks, figures.conversions) == (3, 2, 0)
    assert figures.revenue == 0


def test_conversions_revenue_cost_and_return_on_spend(clicked):
    convert(ANNA, "49.90", ref="ORDER-1")
    convert(ANNA, "49.90", ref="ORDER-1")  # the same order again
    convert(SECOND, 10)
    convert(SECOND)  # a sign-up without a value

    figures = engagement.campaign_figures(clicked)
    counts = selectors.campaign_counts([clicked.pk])[clicked.pk]
    db = db_counts(clicked)

    assert figures.conversions == Conversion.objects.filter(campaign=clicked).count() == 3
    assert figures.valued_conversions == 2
    assert figures.revenue == Decimal("59.90") == Conversion.objects.aggregate(s=Sum("value"))["s"]
    assert figures.currency == "EUR"
    # The actual cost the campaign page shows (the sandbox prices every message).
    assert figures.cost == counts.actual_cost == db["actual"] > 0
    assert not figures.cost_is_estimate
    assert figures.cost_per_conversion == (figures.cost / 3).quantize(Decimal("0.00001"))
    assert figures.return_on_spend == pytest.approx(float(Decimal("59.90") / figures.cost))
    assert figures.other_revenue == {}


def test_revenue_in_another_currency_is_kept_apart_and_out_of_the_return(clicked):
    convert(ANNA, 40, "EUR")
    convert(SECOND, 25, "usd")
    convert(SECOND, 5, "USD")
    convert(ANNA, 1000, "JPY")

    figures = engagement.campaign_figures(clicked)

    assert figures.revenue == Decimal(40)
    assert figures.other_revenue == {"JPY": Decimal(1000), "USD": Decimal(30)}
    assert figures.conversions == 4
    assert figures.return_on_spend == pytest.approx(float(Decimal(40) / figures.cost))


def test_the_cost_is_the_estimate_until_any_is_known(draft, sandbox):
    now = timezone.now()
    Campaign.objects.filter(pk=draft.pk).update(
        state=Campaign.State.RUNNING, launched_at=now, launch_estimate=Decimal("0.293")
    )
    draft.refresh_from_db()
    CampaignCounter.objects.create(
        campaign=draft,
        account=sandbox,
        country="DE",
        day=now.date(),
        minute=now.replace(second=0, microsecond=0),
        status=Status.ACCEPTED,
        count=3,
        estimated_cost=Decimal("0.225"),
    )
    figures = engagement.campaign_figures(draft)
    assert figures.cost == Decimal("0.293") and figures.cost_is_estimate
    assert figures.sent == 3 and figures.delivered == 0
    assert figures.click_rate is None and figures.delivery_rate is None
    assert figures.cost_per_conversion is None
    assert figures.return_on_spend == 0.0


def test_clicks_over_time_go_by_the_minute_from_the_launch(clicked):
    launched_at = clicked.launched_at
    first = Click.objects.filter(campaign=clicked, is_bot=False).order_by("id").first()
    later = launched_at.replace(second=30, microsecond=0) + dt.timedelta(minutes=3)
    Click.objects.filter(pk=first.pk).update(at=later)

    unit, rows = engagement.clicks_timeline(clicked)

    assert unit == "minute"
    start = launched_at.astimezone(dt.UTC).replace(second=0, microsecond=0)
    assert rows[0][0] == start
    assert [at for at, _ in rows] == [start + dt.timedelta(minutes=i) for i in range(len(rows))]
    assert sum(n for _, n in rows) == 3  # people only
    assert dict(rows)[later.astimezone(dt.UTC).replace(second=0)] >= 1
    assert engagement.clicks_over_time(clicked) == rows


def test_clicks_over_time_go_by_the_hour_then_the_day(clicked):
    click = Click.objects.filter(campaign=clicked, is_bot=False).order_by("id").first()
    Click.objects.filter(pk=click.pk).update(at=clicked.launched_at + dt.timedelta(hours=5))
    unit, rows = engagement.clicks_timeline(clicked)
    assert unit == "hour" and len(rows) == 6 and sum(n for _, n in rows) == 3

    Click.objects.filter(pk=click.pk).update(at=clicked.launched_at + dt.timedelta(days=4))
    unit, rows = engagement.clicks_timeline(clicked)
    assert unit == "day" and len(rows) in (5, 6) and rows[-1][1] == 1
    assert all(at.hour == 0 for at, _ in rows)


def test_nobody_clicked_yet(launched):
    assert engagement.clicks_timeline(launched)[1] == []
    figures = engagement.campaign_figures(launched)
    assert (figures.clicks, figures.unique_clicks, figures.click_rate) == (0, 0, 0.0)


# -- per variant ----------------------------------------------------------------------------


@pytest.fixture
def ab_sent(sandbox, sender, manager, django_capture_on_commit_callbacks):
    """An A/B test of two texts over 20 people, half of them in the test."""
    people = ContactList.objects.create(name="People")
    phones = [f"+4915120{i:06d}" for i in range(1, 21)]
    Contact.objects.bulk_create(Contact(phone=p, country="DE") for p in phones)
    ListMembership.objects.bulk_create(
        ListMembership(contact_list=people, contact=c)
        for c in Contact.objects.filter(phone__in=phones)
    )
    campaign = Campaign.objects.create(
        name="Spring A/B",
        text="Spring sale: https://shop.example.com/sale",
        sender=sender,
        account=sandbox,
        ab_test_share=50,
    )
    campaign.lists.add(people)
    abtest.save_variants(
        campaign,
        [
            "Spring sale: https://shop.example.com/sale",
            "Last chance: https://shop.example.com/sale",
        ],
    )
    with django_capture_on_commit_callbacks(execute=True):
        campaign_services.campaign_launch(campaign=campaign, user=manager)
    campaign.refresh_from_db()
    return campaign


def test_variant_figures_are_each_variant_s_own(ab_sent, client):
    a, b = ab_sent.variants.order_by("label")
    in_a = list(Message.objects.filter(campaign=ab_sent, variant=a).order_by("id"))
    in_b = list(Message.objects.filter(campaign=ab_sent, variant=b).order_by("id"))
    assert len(in_a) == len(in_b) == 5
    for message in in_a[:3]:
        tap(client, message.phone)
    tap(client, in_a[0].phone)
    tap(client, in_a[0].phone, PREVIEWS[0])
    tap(client, in_b[0].phone)
    convert(in_a[0].phone, 20)
    convert(in_b[0].phone, 50)
    convert(in_b[1].phone, 5, "USD")

    by_variant = engagement.variant_figures(ab_sent)

    assert list(by_variant) == [a.pk, b.pk]
    for variant, messages in ((a, in_a), (b, in_b)):
        f = by_variant[variant.pk]
        people = Click.objects.filter(message__variant=variant, is_bot=False)
        assert f.sent == Message.objects.filter(variant=variant, status__in=selectors.SENT).count()
        assert f.delivered == sum(m.status == Status.DELIVERED for m in messages) == 5
        assert f.clicks == people.count()
        assert f.unique_clicks == people.values("message").distinct().count()
        assert f.previews == Click.objects.filter(message__variant=variant, is_bot=True).count()
        assert f.click_rate == f.unique_clicks / f.delivered
        assert f.conversions == Conversion.objects.filter(variant=variant).count()
        actual = Message.objects.filter(variant=variant).aggregate(s=Sum("actual_cost"))["s"]
        assert f.cost == actual and not f.cost_is_estimate
    assert (by_variant[a.pk].clicks, by_variant[a.pk].unique_clicks) == (4, 3)
    assert by_variant[a.pk].revenue == Decimal(20)
    assert by_variant[b.pk].revenue == Decimal(50)
    assert by_variant[b.pk].other_revenue == {"USD": Decimal(5)}
    # The campaign's figures are the variants' together.
    whole = engagement.campaign_figures(ab_sent)
    assert whole.clicks == sum(f.clicks for f in by_variant.values())
    assert whole.unique_clicks == sum(f.unique_clicks for f in by_variant.values())
    assert whole.conversions == 3 and whole.revenue == Decimal(70)


def test_the_campaign_page_shows_each_variant_s_figures(ab_sent, client, manager_client):
    a, b = ab_sent.variants.order_by("label")
    tap(client, Message.objects.filter(campaign=ab_sent, variant=b).first().phone)
    page = manager_client.get(reverse("campaigns:detail", args=[ab_sent.pk])).content.decode()
    # One table of figures per variant: the A/B test's (the clicks section
    # does not repeat it).
    assert 'id="engagement-variants"' not in page
    rows = page.split('id="ab-variants"')[1].split("</table>")[0]
    row_a = rows.split('data-variant="A"')[1].split("</tr>")[0]
    row_b = rows.split('data-variant="B"')[1].split("</tr>")[0]
    assert figure(row_a, "clicks").startswith("0 ")
    assert figure(row_b, "clicks").startswith("1 ")
    assert f"({percent(1, 5)})" in row_b.split('data-figure="clicks">')[1].split("</td>")[0]


# -- the pages ------------------------------------------------------------------------------


def figure(html, name) -> str:
    found = re.search(rf'data-figure="{name}">(.*?)</', html, re.S)
    assert found, name
    return found.group(1).strip()


def test_the_campaign_page_shows_what_the_database_holds(clicked, manager_client):
    convert(ANNA, "49.90")
    convert(SECOND, "10")
    convert(SECOND, "7.5", "USD")
    db = db_counts(clicked)
    revenue = Conversion.objects.filter(currency="EUR").aggregate(s=Sum("value"))["s"]

    page = manager_client.get(reverse("campaigns:detail", args=[clicked.pk])).content.decode()
    section = page.split('id="engagement"')[1].split("</section>")[0]

    assert figure(section, "unique_clicks") == str(db["unique"]) == "2"
    assert f"{db['clicks']} clicks in all" in section
    assert figure(section, "click_rate") == percent(db["unique"], db["delivered"]) == "100.0%"
    assert figure(section, "previews") == str(db["previews"]) == "5"
    assert figure(section, "conversions") == str(Conversion.objects.count()) == "3"
    assert figure(section, "revenue") == f"{revenue:.2f} EUR" == "59.90 EUR"
    cost = db["actual"]
    assert f"{format_money(cost, 'EUR')} actual cost" in section
    per = (cost / 3).quantize(Decimal("0.00001"))
    assert figure(section, "cost_per_conversion") == format_money(per, "EUR")
    assert figure(section, "return_on_spend") == f"{float(revenue / cost):.2f}×"
    assert 'id="other-currencies"' in section and "7.50 USD" in section
    assert "not added to the revenue above nor to the return on spend" in section
    # The chart of clicks over time.
    assert 'aria-label="Clicks by people per minute"' in section


def test_the_page_polls_the_same_figures(clicked, manager_client):
    url = reverse("campaigns:detail", args=[clicked.pk])
    Campaign.objects.filter(pk=clicked.pk).update(state=Campaign.State.RUNNING)
    part = manager_client.get(
        f"{url}?part=progress&state=running", headers={"HX-Request": "true"}
    ).content.decode()
    assert figure(part, "unique_clicks") == "2"


def test_a_campaign_without_links_shows_no_engagement(draft, manager, manager_client):
    campaign_services.campaign_launch(campaign=draft, user=manager)
    page = manager_client.get(reverse("campaigns:detail", args=[draft.pk])).content.decode()
    assert 'id="engagement"' not in page


def test_the_provider_s_click_tracking_is_explained(launched, manager_client):
    Campaign.objects.filter(pk=launched.pk).update(click_tracking=True, track_links=False)
    page = manager_client.get(reverse("campaigns:detail", args=[launched.pk])).content.decode()
    note = page.split('id="provider-clicks"')[1].split("</div>")[0]
    assert "shortened and tracked by Sandbox" in note
    assert "counted at Sandbox and shown in its own reports" in note


def test_a_message_page_shows_its_links_clicks_and_conversions(clicked, manager_client):
    convert(ANNA, "49.90", ref="ORDER-1")
    message = Message.objects.get(campaign=clicked, phone=ANNA)
    page = manager_client.get(reverse("campaigns:message", args=[message.pk])).content.decode()

    assert code_of(ANNA) in page.split('id="short-links"')[1]
    clicks = page.split('id="clicks"')[1].split("</table>")[0]
    assert clicks.count('data-bot="false"') == 2
    assert clicks.count('data-bot="true"') == 4
    assert clicks.count("preview, not a click") == 4
    assert "desktop" in clicks and "mobile" in clicks
    found = page.split('id="conversions"')[1]
    assert "49.90 EUR" in found and "ORDER-1" in found and "not reported there" in found


def test_the_message_log_shows_each_message_s_clicks(clicked, manager_client):
    page = manager_client.get(reverse("campaigns:messages")).content.decode()
    for phone, n in ((ANNA, "2"), (SECOND, "1")):
        pk = Message.objects.get(campaign=clicked, phone=phone).pk
        cell = page.split(f'data-clicks="{pk}">')[1].split("</td>")[0]
        assert cell == n
    pk = Message.objects.get(campaign=clicked, phone=PAUL).pk
    assert ">0<" in page.split(f'data-clicks="{pk}">')[1].split("</td>")[0]


# -- the segment condition ------------------------------------------------------------------


def picked(*conditions) -> set[str]:
    segment = Segment(match=Segment.Match.ALL, conditions=list(conditions))
    return set(segments.contacts(segment).values_list("phone", flat=True))


def test_a_segment_picks_who_clicked_and_who_did_not(clicked, client, sender, sandbox):
    campaign = str(clicked.pk)
    # A preview alone is not a click: Paul's chat app fetched his link.
    tap(client, PAUL, PREVIEWS[1])
    # A contact who got nothing from this campaign.
    Contact.objects.create(phone="+4915199999999", country="DE")

    assert picked({"field": "campaign", "op": "clicked", "value": campaign}) == {ANNA, SECOND}
    # Sent a message from it (given to the provider, as "was sent" reads it)
    # and clicked nothing; the contact it sent nothing is not among them.
    assert picked({"field": "campaign", "op": "not_clicked", "value": campaign}) == {
        PAUL,
        LUCAS,
    }
    # Clicks in another campaign do not count here.
    other = Campaign.objects.create(name="Other", text="x", sender=sender, account=sandbox)
    links.record_click(
        campaign_id=other.pk,
        message_id=Message.objects.get(campaign=clicked, phone=PAUL).pk,
        agent="mobile",
    )
    assert PAUL not in picked({"field": "campaign", "op": "clicked", "value": campaign})

    condition = segments.clean_condition(
        {"field": "campaign", "op": "clicked", "value": "Spring sale"}
    )
    assert condition["value"] == campaign
    assert segments.describe(condition) == "Campaign clicked a link in Spring sale"
