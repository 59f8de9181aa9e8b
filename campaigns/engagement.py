"""What happened after delivery: clicks, conversions, revenue and what they
cost, per campaign and per A/B variant. The one place these figures are
computed: the campaign page, the message pages, the REST export and the A/B
test's winner all read them from here.

- A click is a request for one of a message's short links by a person (or a
  click the provider reported): link previews and other bots (``is_bot``)
  are counted apart, as previews, never as clicks. Unique clicks are the
  messages clicked at least once; the click rate is unique clicks of the
  messages delivered.
- Conversions are attributed to a message by its short link's code
  (``campaigns.conversions``); revenue is their value, per currency. Only
  revenue in the currency the campaign's account is billed in goes into the
  return on spend: amounts in another currency are shown apart, never added
  up or converted.
- The cost is the campaign's actual cost as the campaign page shows it once
  any is known, else its estimate (the composer's, at launch); per variant,
  the same from the variant's own messages.

Test sends are left out, as they are from every campaign figure. Every query
reads the clicks and conversions of one campaign through their indexes, so
a campaign of a million messages costs what its clicks cost, not its
messages; only the per-variant send figures group the campaign's messages,
and those are kept a few seconds for a large campaign."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.core.cache import cache
from django.db.models import Count, IntegerField, Max, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce, Trunc

from providers.status import Status

from . import links, selectors
from .models import Campaign, Click, Conversion, Message, Variant

MONEY = Decimal("0.00001")
# Above this audience, a campaign's per-variant send figures (a pass over its
# messages) are read at most once every VARIANT_CACHE_SECONDS.
VARIANT_CACHE_ABOVE = 50_000
VARIANT_CACHE_SECONDS = 10
# Clicks of a message listed on its page (newest first).
MESSAGE_CLICKS_SHOWN = 200


@dataclass
class Figures:
    sent: int = 0
    delivered: int = 0
    # With a final report from the provider (delivered or not).
    finished: int = 0
    delivery_rate: float | None = None
    # Clicks by people (previews and bots left out).
    clicks: int = 0
    # Messages clicked by a person at least once.
    unique_clicks: int = 0
    # Unique clicks of the messages delivered.
    click_rate: float | None = None
    # Requests by link previews and other bots: never clicks.
    previews: int = 0
    conversions: int = 0
    # Revenue in ``currency`` (the account's); other currencies are in
    # ``other_revenue``, never added to it.
    revenue: Decimal = Decimal(0)
    currency: str = ""
    # The actual cost once any is known, else the estimate (``cost_is_estimate``).
    cost: Decimal = Decimal(0)
    cost_per_conversion: Decimal | None = None
    # Revenue (in the account's currency) per unit of cost.
    return_on_spend: float | None = None
    cost_is_estimate: bool = False
    # Revenue of conversions reported in another currency, by currency.
    other_revenue: dict[str, Decimal] = field(default_factory=dict)
    # Conversions reported with a value (any currency).
    valued_conversions: int = 0


@dataclass
class _Clicks:
    clicks: int = 0
    unique: int = 0
    previews: int = 0


@dataclass
class _Conversions:
    count: int = 0
    valued: int = 0
    revenue: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _money(value) -> Decimal:
    # SQLite sums decimals as floating point.
    return Decimal(str(value or 0)).quantize(MONEY, rounding=ROUND_HALF_UP)


def _test_message_ids(campaign_ids: list[int]) -> list[int]:
    """The campaigns' test sends (few, through their own index): their
    clicks and conversions are not the campaign's."""
    return list(
        Message.objects.filter(campaign_id__in=campaign_ids, is_test=True).values_list(
            "id", flat=True
        )
    )


def _not_tests(campaign_ids: list[int]) -> Q:
    tests = _test_message_ids(campaign_ids)
    if not tests:
        return Q()
    return Q(message_id__isnull=True) | ~Q(message_id__in=tests)


def _click_rows(campaign_ids: list[int], *, by_variant: bool = False) -> dict[tuple, _Clicks]:
    """Clicks per (campaign, variant) (variant None unless ``by_variant``),
    read through the clicks' (campaign, time) index."""
    person = Q(is_bot=False)
    keys = ["campaign_id", "variant_id"] if by_variant else ["campaign_id"]
    rows = (
        Click.objects.filter(Q(campaign_id__in=campaign_ids) & _not_tests(campaign_ids))
        .order_by()
        .values(*keys)
        .annotate(
            clicks=Count("id", filter=person),
            unique=Count("message_id", filter=person, distinct=True),
            previews=Count("id", filter=Q(is_bot=True)),
        )
    )
    return {
        (row["campaign_id"], row.get("variant_id")): _Clicks(
            row["clicks"], row["unique"], row["previews"]
        )
        for row in rows
    }


def _conversion_rows(campaign_id: int) -> dict[int | None, _Conversions]:
    """Conversions per variant (None: the campaign's own text)."""
    rows = (
        Conversion.objects.filter(Q(campaign_id=campaign_id) & _not_tests([campaign_id]))
        .order_by()
        .values("variant_id", "currency")
        .annotate(n=Count("id"), valued=Count("value"), revenue=Sum("value"))
    )
    found: dict[int | None, _Conversions] = defaultdict(_Conversions)
    for row in rows:
        entry = found[row["variant_id"]]
        entry.count += row["n"]
        entry.valued += row["valued"]
        if row["valued"]:
            entry.revenue[row["currency"]] += _money(row["revenue"])
    return found


def click_counts(campaign_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(clicks, unique clicks) per campaign, in one query (the REST export's
    campaign pages)."""
    rows = _click_rows(campaign_ids) if campaign_ids else {}
    found = dict.fromkeys(campaign_ids, (0, 0))
    for (cid, _), clicks in rows.items():
        found[cid] = (clicks.clicks, clicks.unique)
    return found


def with_clicks(messages):
    """``messages`` annotated with ``click_count``: the clicks by people on each
    one's links (previews left out), one lookup in the clicks' message index
    per row, in the same query (the message log, the REST export)."""
    per_message = (
        Click.objects.filter(message_id=OuterRef("pk"), is_bot=False)
        .order_by()
        .values("message_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return messages.annotate(
        click_count=Coalesce(Subquery(per_message, output_field=IntegerField()), 0)
    )


def _cost(actual: Decimal, estimated: Decimal | None, finished: int) -> tuple[Decimal, bool]:
    """(cost, whether it is an estimate): the actual cost once any is known
    (something was priced or reported final), else the estimate."""
    if actual or finished or estimated is None:
        return _money(actual), False
    return _money(estimated), True


def _figures(
    *,
    sent: int,
    delivered: int,
    finished: int,
    clicks: _Clicks,
    conversions: _Conversions,
    currency: str,
    cost: Decimal,
    cost_is_estimate: bool,
) -> Figures:
    revenue = conversions.revenue.get(currency, Decimal(0))
    other = {c: v for c, v in sorted(conversions.revenue.items()) if c != currency}
    return Figures(
        sent=sent,
        delivered=delivered,
        finished=finished,
        delivery_rate=_rate(delivered, finished),
        clicks=clicks.clicks,
        unique_clicks=clicks.unique,
        click_rate=_rate(clicks.unique, delivered),
        previews=clicks.previews,
        conversions=conversions.count,
        valued_conversions=conversions.valued,
        revenue=revenue,
        currency=currency,
        cost=cost,
        cost_is_estimate=cost_is_estimate,
        cost_per_conversion=(cost / conversions.count).quantize(MONEY, rounding=ROUND_HALF_UP)
        if conversions.count
        else None,
        return_on_spend=float(revenue / cost) if cost else None,
        other_revenue=other,
    )


def campaign_figures(campaign: Campaign, counts: selectors.Counts | None = None) -> Figures:
    """The campaign's engagement figures. Sends, deliveries and cost are the
    campaign page's own (its counters, ``counts`` when the caller has them)."""
    if counts is None:
        counts = selectors.campaign_counts([campaign.pk])[campaign.pk]
    clicks = _click_rows([campaign.pk]).get((campaign.pk, None), _Clicks())
    conversions = _Conversions()
    for found in _conversion_rows(campaign.pk).values():
        conversions.count += found.count
        conversions.valued += found.valued
        for currency, amount in found.revenue.items():
            conversions.revenue[currency] += amount
    cost, estimated = _cost(
        counts.actual_cost, selectors.cost_estimate(campaign, counts), counts.finished
    )
    return _figures(
        sent=counts.submitted,
        delivered=counts.get(Status.DELIVERED),
        finished=counts.finished,
        clicks=clicks,
        conversions=conversions,
        currency=campaign.account.currency,
        cost=cost,
        cost_is_estimate=estimated,
    )


def _variant_sends(campaign: Campaign) -> list[dict]:
    """Messages per variant and status, with their estimated and actual
    cost: one pass over the campaign's messages, kept a few seconds for a
    large campaign."""
    key = f"engagement-variants:{campaign.pk}"
    large = campaign.audience_count > VARIANT_CACHE_ABOVE
    if large:
        kept = cache.get(key)
        if kept is not None:
            return kept
    rows = list(
        Message.objects.filter(campaign_id=campaign.pk, is_test=False, variant_id__isnull=False)
        .order_by()
        .values("variant_id", "status")
        .annotate(n=Count("id"), est=Sum("estimated_cost"), act=Sum("actual_cost"))
    )
    if large:
        cache.set(key, rows, VARIANT_CACHE_SECONDS)
    return rows


def variant_figures(campaign: Campaign) -> dict[int, Figures]:
    """The figures of each of the campaign's variants, by variant id (every
    variant, with zeros before it has sent anything)."""
    variant_ids = list(
        Variant.objects.filter(campaign_id=campaign.pk)
        .order_by("label")
        .values_list("id", flat=True)
    )
    if not variant_ids:
        return {}
    sends: dict[int, dict] = {
        vid: {"by_status": defaultdict(int), "est": Decimal(0), "act": Decimal(0)}
        for vid in variant_ids
    }
    for row in _variant_sends(campaign):
        entry = sends.get(row["variant_id"])
        if entry is None:
            continue
        entry["by_status"][row["status"]] += row["n"]
        entry["est"] += _money(row["est"])
        entry["act"] += _money(row["act"])
    clicks = {
        variant: found
        for (_, variant), found in _click_rows([campaign.pk], by_variant=True).items()
    }
    conversions = _conversion_rows(campaign.pk)
    result = {}
    for vid in variant_ids:
        entry = sends[vid]
        by_status = entry["by_status"]
        finished = sum(by_status[s] for s in selectors.OUTCOMES)
        cost, estimated = _cost(entry["act"], entry["est"], finished)
        result[vid] = _figures(
            sent=sum(by_status[s] for s in selectors.SENT),
            delivered=by_status[Status.DELIVERED],
            finished=finished,
            clicks=clicks.get(vid, _Clicks()),
            conversions=conversions.get(vid, _Conversions()),
            currency=campaign.account.currency,
            cost=cost,
            cost_is_estimate=estimated,
        )
    return result


# A campaign's click chart goes by the minute while its clicks span less
# than this from its launch, by the hour while they span less than two days,
# else by the (UTC) day: as its other charts do.
MINUTE_CHARTS = selectors.MINUTE_CHARTS
HOUR_CHARTS = selectors.HOUR_CHARTS
STEPS = {
    "minute": dt.timedelta(minutes=1),
    "hour": dt.timedelta(hours=1),
    "day": dt.timedelta(days=1),
}


def has_engagement(campaign: Campaign) -> bool:
    """Whether the campaign page shows clicks and conversions: a launched
    campaign whose links are tracked (by us or by the provider), or that
    has any click or conversion all the same."""
    if not campaign.launched_at or campaign.purpose != Campaign.Purpose.MARKETING:
        return False
    if campaign.click_tracking or links.uses_short_links(campaign):
        return True
    return (
        Click.objects.filter(campaign_id=campaign.pk).exists()
        or Conversion.objects.filter(campaign_id=campaign.pk).exists()
    )


def _human_clicks(campaign_id: int):
    return Click.objects.filter(
        Q(campaign_id=campaign_id, is_bot=False) & _not_tests([campaign_id])
    )


def clicks_unit(campaign: Campaign) -> tuple[str, dt.datetime | None, dt.datetime | None]:
    """(unit, first bucket, last click) of the campaign's click chart; the
    times are None when nobody has clicked."""
    last = _human_clicks(campaign.pk).order_by().aggregate(last=Max("at"))["last"]
    if last is None:
        return "minute", None, None
    start = campaign.launched_at or last
    start = min(start, last)
    span = last - start
    unit = "minute" if span < MINUTE_CHARTS else "hour" if span < HOUR_CHARTS else "day"
    return unit, _bucket(start, unit), last


def _bucket(at: dt.datetime, unit: str) -> dt.datetime:
    at = at.astimezone(dt.UTC)
    if unit == "minute":
        return at.replace(second=0, microsecond=0)
    if unit == "hour":
        return at.replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def clicks_timeline(campaign: Campaign) -> tuple[str, list[tuple[dt.datetime, int]]]:
    """(unit, rows) of the campaign's click chart: clicks by people per
    minute, hour or UTC day (as ``clicks_unit`` chooses), every one from the
    launch to the last click, oldest first; no rows while nobody clicked."""
    unit, start, last = clicks_unit(campaign)
    if start is None:
        return unit, []
    rows = (
        _human_clicks(campaign.pk)
        .annotate(bucket=Trunc("at", unit, tzinfo=dt.UTC))
        .order_by()
        .values("bucket")
        .annotate(n=Count("id"))
    )
    by_start = {_bucket(row["bucket"], unit): row["n"] for row in rows}
    step = STEPS[unit]
    steps = int((_bucket(last, unit) - start) / step)
    return unit, [(start + i * step, by_start.get(start + i * step, 0)) for i in range(steps + 1)]


def clicks_over_time(campaign: Campaign) -> list[tuple[dt.datetime, int]]:
    """(start, clicks by people) per minute, hour or UTC day: the rows of
    ``clicks_timeline``."""
    return clicks_timeline(campaign)[1]


def provider_refusals(campaign_id: int) -> int:
    """The campaign's conversions its provider refused to log (kept on each
    as the provider said it; the message pages show why)."""
    return Conversion.objects.filter(
        campaign_id=campaign_id, provider_answer__state="failed"
    ).count()


def message_engagement(message: Message) -> tuple[list[Click], list[Conversion]]:
    """A message's clicks (newest first, previews included and marked) and
    its conversions, for its page."""
    clicks = list(
        Click.objects.filter(message_id=message.pk)
        .select_related("link")
        .order_by("-at", "-id")[:MESSAGE_CLICKS_SHOWN]
    )
    conversions = list(
        Conversion.objects.filter(message_id=message.pk)
        .select_related("link")
        .order_by("-created_at", "-id")
    )
    return clicks, conversions
