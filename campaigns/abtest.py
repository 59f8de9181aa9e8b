"""A/B tests: a campaign with 2 to 4 variants of its text (labelled A–D;
variant A is the campaign's own text) and a test share of its audience.

- Launch writes only the test share of the audience as message rows
  (``materialise_test``, through the one INSERT … SELECT of
  ``services.insert_audience``, so every skip reason holds): the audience is
  ranked by a hash of (campaign, number), the first share taken, and each
  recipient given the variant of its rank modulo the number of variants. The
  split is even and the same however often it is computed; the (campaign,
  number) constraint keeps everyone to one message.
- After ``ab_wait_minutes`` the winner is chosen: automatically by the
  campaign's metric (``decide_due``, every minute), or by a person
  (``pick_winner``). Then, once, under the campaign's lock, the rest of the
  audience (everyone without a message in the campaign) is written with the
  winner as its variant (``send_winner``).
- The texts of A/B messages are rendered per recipient when they are sent,
  from their variant's text (campaigns.dispatch).
- A campaign whose rest waits for its winner is not completed
  (lifecycle.campaign_complete_if_done); cancelling it before the winner
  leaves the rest unsent.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Exists, Max, OuterRef
from django.utils import timezone

from contacts.models import Contact
from providers import segments
from smsportal import audit
from smsportal.celery import enqueue

from . import compliance, compose, links, services
from .delivery import Deltas, grouped
from .lifecycle import CampaignError
from .models import ABMetric, Campaign, Message, Variant

State = Campaign.State

LABELS = "ABCD"
MIN_VARIANTS, MAX_VARIANTS = 2, len(LABELS)
SHARE_MIN, SHARE_MAX = 1, 50
# The metric as a sentence names it.
METRIC_NAMES = {
    ABMetric.CLICKS: "click rate",
    ABMetric.DELIVERY: "delivery rate",
    ABMetric.CONVERSIONS: "conversions per message sent",
}
# How long a count of the recipients waiting for the winner is kept.
REST_CACHE_SECONDS = 30
MONEY = Decimal("0.00001")


# -- the variants ----------------------------------------------------------------------------


def variant_texts(campaign) -> list[tuple[str, str]]:
    """(label, text) of the campaign's variants, A first; empty when it is
    not an A/B test. The composer sets ``ab_texts`` on a campaign it has not
    saved yet, so the preview and the checks read what the form holds."""
    given = getattr(campaign, "ab_texts", None)
    if given is not None:
        return list(given)
    if campaign.ab_test_share is None or not campaign.pk:
        return []
    return list(campaign.variants.order_by("label").values_list("label", "text"))


def test_variants(campaign: Campaign) -> list[Variant]:
    """The variants a launched A/B test splits its test share among (A
    first); empty when the campaign is not one (no share, or a number of
    variants launch would have refused)."""
    if campaign.ab_test_share is None:
        return []
    variants = list(campaign.variants.order_by("label"))
    return variants if MIN_VARIANTS <= len(variants) <= MAX_VARIANTS else []


def save_variants(campaign: Campaign, texts: list[str]) -> list[Variant]:
    """Store the composer's variants of a draft: ``texts`` in order (the
    first is the campaign's own text), labelled A, B, …; none when it is not
    an A/B test. What was stored before is replaced."""
    if not campaign.is_editable:
        raise CampaignError("Only a draft's A/B test can be changed.")
    if len(texts) > MAX_VARIANTS:
        raise CampaignError(f"An A/B test has at most {MAX_VARIANTS} variants.")
    stored = {v.label: v for v in campaign.variants.all()}
    kept = []
    for label, text in zip(LABELS, texts, strict=False):
        variant = stored.pop(label, None) or Variant(campaign=campaign, label=label)
        if variant.pk is None or variant.text != text:
            variant.text = text
            variant.save()
        kept.append(variant)
    if stored:
        Variant.objects.filter(pk__in=[v.pk for v in stored.values()]).delete()
    return kept


def test_size(total: int, share: int, variants: int) -> int:
    """Recipients in the test part: ``share`` percent of the ``total``
    audience, rounded up, and at least one per variant (never more than
    there are)."""
    if total <= 0:
        return 0
    return min(total, max(variants, math.ceil(total * share / 100)))


def split(test: int, variants: int) -> list[int]:
    """Recipients per variant of a test part of ``test``: the rank modulo
    the number of variants gives the variant, so earlier labels get the one
    left over."""
    return [test // variants + (1 if i < test % variants else 0) for i in range(variants)]


def wait_text(minutes: int) -> str:
    """A waiting time as people say it: "45 minutes", "4 hours", "2 days"."""
    if minutes % 1440 == 0:
        days = minutes // 1440
        return f"{days} day{'s' if days != 1 else ''}"
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    if minutes > 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


# -- launch: the test part -------------------------------------------------------------------


def materialise_test(campaign: Campaign, variants: list[Variant], *, now, encoding: str) -> int:
    """Write the test share of the audience as message rows, each with its
    variant (inside ``services.materialise``'s transaction, the campaign
    locked), and set when the test ends. Returns how many rows."""
    total = compose.audience(campaign).count()
    size = test_size(total, campaign.ab_test_share, len(variants))
    audience_sql, audience_params = compose.audience(campaign).values("id").query.sql_with_params()
    contacts = Contact._meta.db_table
    # The rank: a hash of (campaign, number), the id breaking ties; the
    # variant: rank modulo the number of variants, A first. Table names come
    # from model metadata; values are parameters.
    ranked = (
        f"JOIN (SELECT x.id, row_number() OVER (ORDER BY md5(CAST(%s AS text) || x.phone), "  # noqa: S608 - the model's own table
        f"x.id) AS rn FROM {contacts} x WHERE x.id IN ({audience_sql})) a ON a.id = c.id"
    )
    cases = " ".join(f"WHEN {i} THEN %s" for i in range(len(variants)))
    inserted = services.insert_audience(
        campaign,
        now=now,
        # Rendered per recipient from the variant when sent.
        text="",
        encoding=encoding,
        segments=0,
        variant=(f"CASE (a.rn - 1) %% {len(variants)} {cases} END", [v.pk for v in variants]),
        join=(ranked, [f"{campaign.pk}:", *audience_params]),
        where=("a.rn <= %s", [size]),
    )
    starts = max(now, campaign.scheduled_at or now)
    campaign.ab_test_ends_at = starts + timedelta(minutes=campaign.ab_wait_minutes)
    audit.record(
        "campaign.ab_test_start",
        obj=campaign,
        share=campaign.ab_test_share,
        test=inserted,
        audience=total,
        variants=[v.label for v in variants],
        ends_at=campaign.ab_test_ends_at.isoformat(),
    )
    return inserted


# -- the winner ------------------------------------------------------------------------------


def score(figures, metric: str) -> float | None:
    """A variant's figure for the metric (None: nothing to judge by): click
    rate and delivery rate as engagement computes them, conversions per
    message sent."""
    if figures is None:
        return None
    if metric == ABMetric.CLICKS:
        return figures.click_rate
    if metric == ABMetric.DELIVERY:
        return figures.delivery_rate
    return figures.conversions / figures.sent if figures.sent else None


def no_data_reason(metric: str, figures: dict) -> str | None:
    """Why the metric cannot tell the variants apart yet (None when it can):
    nobody clicked, nothing has a final report, nothing converted."""
    found = list(figures.values())
    if metric == ABMetric.CLICKS:
        if not any(f.delivered for f in found):
            return "no variant has a delivered message yet, so there is no click rate."
        if not any(f.unique_clicks for f in found):
            return "nobody has clicked a link in any variant, so the click rate is 0 for all."
        return None
    if metric == ABMetric.DELIVERY:
        if not any(f.finished for f in found):
            return "no variant has a final delivery report yet, so there is no delivery rate."
        return None
    if not any(f.conversions for f in found):
        return "no conversion has been recorded for any variant."
    return None


def best_variant(campaign: Campaign, figures: dict | None = None):
    """(the winning variant or None, why none, {variant id: score}) by the
    campaign's metric; a tie goes to the earlier label."""
    from . import engagement

    if figures is None:
        figures = engagement.variant_figures(campaign)
    variants = list(campaign.variants.order_by("label"))
    scores = {v.pk: score(figures.get(v.pk), campaign.ab_metric) for v in variants}
    reason = no_data_reason(campaign.ab_metric, figures) if figures else "it has no variants."
    if reason:
        return None, reason, scores
    best = None
    for v in variants:
        value = scores[v.pk]
        if value is not None and (best is None or value > scores[best.pk]):
            best = v
    if best is None:
        return None, f"no variant has a {METRIC_NAMES[campaign.ab_metric]} yet.", scores
    return best, "", scores


def _rest_rows(campaign: Campaign, winner: Variant, now) -> int:
    """Write the rest of the audience (everyone without a message in the
    campaign) with the winner as variant; the campaign is locked."""
    messages = Message._meta.db_table
    audience_sql, audience_params = compose.audience(campaign).values("id").query.sql_with_params()
    newest = campaign.messages.aggregate(newest=Max("id"))["newest"] or 0
    inserted = services.insert_audience(
        campaign,
        now=now,
        text="",
        encoding=segments.count(winner.text).encoding,
        segments=0,
        variant=("%s", [winner.pk]),
        where=(
            f"c.id IN ({audience_sql}) AND NOT EXISTS (SELECT 1 FROM {messages} o "  # noqa: S608 - the model's own table
            "WHERE o.campaign_id = %s AND o.phone = c.phone AND o.is_test = %s)",
            [*audience_params, campaign.pk, False],
        ),
    )
    # Counters for the new rows only (ids grow; the campaign is locked, and
    # its test sends are not audience).
    deltas = Deltas()
    for g in grouped(campaign.messages.filter(is_test=False, id__gt=newest)):
        deltas.add(g, g.status, count=g.count, estimated=g.estimated_cost, segments=g.segments)
    deltas.save()
    return inserted


def send_winner(campaign_id: int, variant_id: int, *, user=None, scores=None) -> int:
    """Make the variant the winner and write the rest of the audience with
    it, once: a second call (a person and the automatic pick at the same
    moment, a retried task) finds the winner set and changes nothing but
    says so. ``user`` None: picked automatically. Returns how many messages
    the rest got."""
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update(of=("self",))
            .select_related("account", "sender")
            .get(pk=campaign_id)
        )
        if campaign.ab_winner_id is not None:
            label = Variant.objects.filter(pk=campaign.ab_winner_id).values_list("label", flat=True)
            raise CampaignError(
                f"Variant {label.first() or '?'} was already chosen and sent to the rest."
            )
        problem = _pick_problem(campaign, by_person=user is not None)
        if problem:
            raise CampaignError(problem)
        try:
            winner = campaign.variants.get(pk=variant_id)
        except Variant.DoesNotExist:
            raise CampaignError("That variant is not one of this campaign's.") from None
        now = timezone.now()
        rest = _rest_rows(campaign, winner, now)
        campaign.ab_winner = winner
        campaign.ab_decided_at = now
        campaign.ab_decided_by = user
        campaign.audience_count += rest
        # The rest may live in zones the test part had none in: quiet hours
        # find the campaign's zones again.
        campaign.recipient_zones = None
        campaign.save(
            update_fields=[
                "ab_winner",
                "ab_decided_at",
                "ab_decided_by",
                "audience_count",
                "recipient_zones",
                "updated_at",
            ]
        )
        audit.record(
            "campaign.ab_winner",
            actor=user,
            obj=campaign,
            variant=winner.label,
            picked="by a person" if user is not None else "automatically",
            metric=campaign.ab_metric,
            scores={
                label: (None if value is None else round(value, 6))
                for label, value in (scores or {}).items()
            }
            or None,
            rest=rest,
        )
        if campaign.state == State.RUNNING:
            enqueue("campaigns.tasks.dispatch_campaign", campaign.pk)
    return rest


def _pick_problem(campaign: Campaign, *, by_person: bool) -> str:
    """Why the campaign's winner cannot be chosen now ("" when it can)."""
    if campaign.ab_test_share is None:
        return "This campaign is not an A/B test."
    if campaign.state not in (State.RUNNING, State.PAUSED) or not campaign.materialised_at:
        return (
            f"A {campaign.get_state_display().lower()} campaign's A/B test cannot be given "
            "a winner."
        )
    if by_person and campaign.ab_auto_winner and campaign.ab_decided_at is None:
        return (
            "The winner of this test is picked automatically when the test ends; a person "
            "picks only when the automatic pick cannot decide."
        )
    return ""


def can_pick(campaign: Campaign) -> bool:
    """May a person pick the winner now (the campaign page's buttons)?"""
    return campaign.ab_winner_id is None and not _pick_problem(campaign, by_person=True)


def pick_winner(*, campaign: Campaign, variant: Variant, user) -> int:
    """A person's choice of the winner: the rest of the audience gets it
    (audit-logged). Returns how many messages the rest got."""
    return send_winner(campaign.pk, variant.pk, user=user)


def decide(campaign_id: int, now=None) -> Variant | None:
    """The automatic pick for one campaign whose test has ended: the best
    variant by its metric goes to the rest. When no variant has data for the
    metric it does not guess: the campaign waits for a person, and the
    audit log says why."""
    from . import engagement

    now = now or timezone.now()
    campaign = Campaign.objects.select_related("account").get(pk=campaign_id)
    if not _due(campaign, now):
        return None
    figures = engagement.variant_figures(campaign)
    winner, reason, scores = best_variant(campaign, figures)
    labels = dict(campaign.variants.values_list("pk", "label"))
    if winner is None:
        with transaction.atomic():
            locked = Campaign.objects.select_for_update().get(pk=campaign_id)
            if not _due(locked, now):
                return None
            locked.ab_decided_at = timezone.now()
            locked.save(update_fields=["ab_decided_at", "updated_at"])
            audit.record(
                "campaign.ab_undecided",
                obj=locked,
                metric=locked.ab_metric,
                reason=reason,
            )
        return None
    try:
        send_winner(
            campaign_id,
            winner.pk,
            scores={labels[pk]: value for pk, value in scores.items()},
        )
    except CampaignError:
        return None  # chosen meanwhile, or the campaign stopped
    return winner


def _due(campaign: Campaign, now) -> bool:
    return bool(
        campaign.state == State.RUNNING
        and campaign.ab_test_share is not None
        and campaign.ab_auto_winner
        and campaign.ab_winner_id is None
        and campaign.ab_decided_at is None
        and campaign.ab_test_ends_at is not None
        and campaign.ab_test_ends_at <= now
    )


def decide_due(now=None) -> list[int]:
    """Every minute: the automatic pick for each running campaign whose
    test has ended without a winner. Returns the campaigns that got one."""
    now = now or timezone.now()
    due = Campaign.objects.filter(
        state=State.RUNNING,
        ab_test_share__isnull=False,
        ab_auto_winner=True,
        ab_winner__isnull=True,
        ab_decided_at__isnull=True,
        ab_test_ends_at__lte=now,
    ).values_list("id", flat=True)
    return [pk for pk in list(due) if decide(pk, now) is not None]


def rest_count(campaign: Campaign) -> int:
    """Recipients of the audience still without a message: those waiting
    for the winner (counted at most every REST_CACHE_SECONDS)."""
    stamp = campaign.materialised_at.timestamp() if campaign.materialised_at else 0
    key = f"ab-rest:{campaign.pk}:{stamp}"
    found = cache.get(key)
    if found is None:
        has_message = Message.objects.filter(
            campaign_id=campaign.pk, phone=OuterRef("phone"), is_test=False
        )
        found = compose.audience(campaign).exclude(Exists(has_message)).count()
        cache.set(key, found, REST_CACHE_SECONDS)
    return found


# -- the composer: checks and preview --------------------------------------------------------


class _WithText:
    """The campaign as if its text were ``text`` (a variant's): what compose
    renders, checks and prices for it."""

    def __init__(self, campaign, text: str):
        self._campaign = campaign
        self.text = text

    def __getattr__(self, name):
        return getattr(self._campaign, name)


def with_text(campaign, text: str):
    return _WithText(campaign, text)


def check(campaign, result: compose.Check) -> None:
    """Add what is wrong with the campaign's A/B test to ``result``: the
    number of variants, the share, each variant checked as the main text is
    (empty, length, opt-out instruction, encoding; the DLT template in
    ``check_dlt``), and whether its metric can be measured."""
    if campaign.ab_test_share is None:
        return
    texts = variant_texts(campaign)
    if not MIN_VARIANTS <= len(texts) <= MAX_VARIANTS:
        result.errors.append(
            f"An A/B test needs {MIN_VARIANTS} to {MAX_VARIANTS} variants of the text; "
            f"this one has {len(texts)}."
        )
    if not SHARE_MIN <= campaign.ab_test_share <= SHARE_MAX:
        result.errors.append(
            f"The A/B test's share is {campaign.ab_test_share}%: give {SHARE_MIN} to "
            f"{SHARE_MAX}% of the audience."
        )
    if campaign.provider_list_ids:
        result.errors.append(
            "An A/B test splits smsportal's own audience: it cannot be sent to the "
            "provider's contact lists."
        )
    seen: dict[str, str] = {}
    for label, text in texts:
        name = f"Variant {label}"
        if text in seen:
            result.errors.append(
                f"{name} is the same text as variant {seen[text]}: give each variant its own text."
            )
        seen.setdefault(text, label)
        if label == LABELS[0] and text == campaign.text:
            continue  # the campaign's text, checked as such
        if not text.strip():
            result.errors.append(f"{name} is empty.")
            continue
        too_long = compose.text_length_problem(text)
        if too_long:
            result.errors.append(f"{name}: {too_long}")
        if compose.opt_out_missing(with_text(campaign, text)):
            result.warnings.append(
                f"{name} does not say how to opt out: add an instruction such as "
                f"“{compliance.opt_out_instruction()}”."
            )
        written = segments.to_gsm7(text) if campaign.keep_gsm7 else text
        if segments.count(written).encoding == segments.UCS2:
            chars = ", ".join(f"“{c}”" for c in segments.not_gsm7(written)[:10])
            result.warnings.append(
                f"{name} goes as UCS-2 (70 characters a part instead of 160) because of {chars}."
            )
    _metric_warnings(campaign, texts, result)


def _metric_warnings(campaign, texts: list[tuple[str, str]], result: compose.Check) -> None:
    if campaign.ab_metric not in (ABMetric.CLICKS, ABMetric.CONVERSIONS):
        return
    name = METRIC_NAMES[campaign.ab_metric]
    without = [label for label, text in texts if text.strip() and not links.find_urls(text)]
    if without:
        which = ", ".join(without)
        result.warnings.append(
            f"The winner is picked by {name}, which needs a link in every variant; "
            f"variant{'s' if len(without) > 1 else ''} {which} "
            f"{'have' if len(without) > 1 else 'has'} none."
        )
    elif not getattr(campaign, "track_links", True) and not campaign.click_tracking:
        result.warnings.append(
            f"The winner is picked by {name}, but the links are not tracked: tick “Track links”."
        )


def check_dlt(campaign, result: compose.Check, limit: int = 50_000) -> None:
    """Each variant but the campaign's own text against the DLT template, for
    every recipient in India (compose.check does the text itself): the
    variants that break it are errors, their recipients kept with the
    text's in ``dlt_mismatches``."""
    if campaign.ab_test_share is None or not campaign.dlt_template_id:
        return
    if campaign.provider_list_ids:
        return
    others = [
        (label, text)
        for label, text in variant_texts(campaign)
        if not (label == LABELS[0] and text == campaign.text) and text.strip()
    ]
    if not others:
        return
    template = campaign.dlt_template
    pattern = compose.dlt_pattern(template.content)
    indian = compose.sendable(compose.audience(campaign)).filter(country=compose.INDIA)
    proxies = [(label, with_text(campaign, text)) for label, text in others]
    broken: Counter = Counter()
    fields = ("phone", "first_name", "last_name", "attributes")
    for row in indian.values(*fields).iterator(chunk_size=2000):
        for label, proxy in proxies:
            if not pattern.matches(compose.render_for(proxy, row)):
                broken[label] += 1
                if len(result.dlt_mismatches) < limit:
                    result.dlt_mismatches.append(
                        (row["phone"], f"variant {label} does not match the registered template")
                    )
    for label, _ in others:
        if broken[label]:
            result.errors.append(
                f"Variant {label}: {broken[label]} message(s) to India do not match the DLT "
                f"template {template.template_id}."
            )


@dataclass
class VariantPreview:
    label: str
    text: str
    encoding: str  # "GSM-7", "UCS-2", or both where recipients' texts differ
    # (parts, recipients of the audience getting that many), fewest first.
    parts: list[tuple[int, int]]
    recipients: int  # in the test part
    # (number, text) of the first recipient, as sent.
    sample: tuple[str, str] | None
    # What its test recipients cost, and what one message costs on average.
    estimated_cost: Decimal
    cost_each: Decimal

    @property
    def parts_range(self) -> str:
        if not self.parts:
            return str(segments.count(self.text).segments)
        low, high = self.parts[0][0], self.parts[-1][0]
        return str(low) if low == high else f"{low}–{high}"


@dataclass
class ABPreview:
    """What the composer shows of an A/B test: each variant's parts and
    cost, how many recipients the test part and the rest are, and the cost
    of both (the rest priced at the costliest variant: it may win)."""

    share: int
    total: int  # the audience, as launch ranks it (skipped ones too)
    test: int
    rest: int
    wait_minutes: int
    metric: str
    auto: bool
    variants: list[VariantPreview] = field(default_factory=list)
    test_cost: Decimal = Decimal(0)
    rest_cost: Decimal = Decimal(0)

    @property
    def estimated_cost(self) -> Decimal:
        return self.test_cost + self.rest_cost

    @property
    def wait(self) -> str:
        return wait_text(self.wait_minutes)

    @property
    def metric_name(self) -> str:
        return METRIC_NAMES.get(self.metric, self.metric)


def preview(campaign, found: compose.Recipients, rates: dict, account) -> ABPreview | None:
    """The A/B test's part of the composer's preview (None when the
    campaign is not one): every recipient's text rendered with each variant,
    as launch and dispatch will."""
    texts = variant_texts(campaign)
    share = campaign.ab_test_share
    if share is None or not MIN_VARIANTS <= len(texts) <= MAX_VARIANTS:
        return None
    share = min(max(share, SHARE_MIN), SHARE_MAX)
    test = test_size(found.total, share, len(texts))
    result = ABPreview(
        share=share,
        total=found.total,
        test=test,
        rest=found.total - test,
        wait_minutes=campaign.ab_wait_minutes,
        metric=campaign.ab_metric,
        auto=campaign.ab_auto_winner,
    )
    to_send = found.to_send
    by_country = {
        row["country"]: row["n"]
        for row in to_send.order_by().values("country").annotate(n=Count("id"))
    }
    sendable = sum(by_country.values())
    # Of the recipients ranked into a part, this share will be sent to.
    sent_share = Decimal(sendable) / Decimal(found.total) if found.total else Decimal(0)
    # Counted as they go: tracked URLs as short links (as compose.preview).
    short = links.uses_short_links(campaign, dict(enumerate(text for _, text in texts)))
    template = campaign.dlt_template if short else None
    india = compose.dlt_pattern(template.content) if template else None

    def sent(text: str, country: str = "") -> str:
        if not short:
            return text
        return links.sample_text(text, india if country == compose.INDIA else None)

    fields = ("phone", "first_name", "last_name", "attributes", "country")
    first = to_send.order_by("id").values(*fields).first()
    dearest = Decimal(0)
    for (label, text), recipients in zip(texts, split(test, len(texts)), strict=True):
        proxy = with_text(campaign, text)
        parts: Counter = Counter()
        encodings: set[str] = set()
        cost = Decimal(0)
        if compose.placeholders(text):
            for row in to_send.values(*fields).iterator(chunk_size=5000):
                counted = segments.count(sent(compose.render_for(proxy, row), row["country"]))
                parts[counted.segments] += 1
                encodings.add(counted.encoding)
                cost += counted.segments * rates.get(row["country"], account.default_price)
        else:
            plain = compose.render_for(proxy, {})
            for country, n in by_country.items():
                counted = segments.count(sent(plain, country))
                parts[counted.segments] += n
                encodings.add(counted.encoding)
                cost += n * counted.segments * rates.get(country, account.default_price)
        if not encodings:  # nobody to send to yet: the text as written
            encodings.add(segments.count(sent(compose.render_for(proxy, {}))).encoding)
        each = cost / sendable if sendable else Decimal(0)
        dearest = max(dearest, each)
        sample = None
        if first is not None:
            sample = (first["phone"], sent(compose.render_for(proxy, first), first["country"]))
        result.variants.append(
            VariantPreview(
                label=label,
                text=text,
                encoding=" and ".join(sorted(encodings)),
                parts=sorted(parts.items()),
                recipients=recipients,
                sample=sample,
                estimated_cost=(each * recipients * sent_share).quantize(MONEY),
                cost_each=each.quantize(MONEY),
            )
        )
    result.test_cost = sum((v.estimated_cost for v in result.variants), Decimal(0))
    result.rest_cost = (dearest * result.rest * sent_share).quantize(MONEY)
    return result


# -- the campaign page -----------------------------------------------------------------------


@dataclass
class VariantRow:
    variant: Variant
    figures: object | None  # engagement.Figures; None before launch
    score: float | None
    is_winner: bool


@dataclass
class Summary:
    """The A/B test as the campaign page shows it.

    ``state``: planned (not launched), testing (until ``ends_at``),
    deciding (ended, the automatic pick about to run), undecided (the
    automatic pick could not decide: ``reason``), picking (ended, or
    manual: a person picks), decided, cancelled (before a winner)."""

    share: int
    wait: str
    metric: str
    metric_name: str
    auto: bool
    state: str
    variants: list[VariantRow]
    ends_at: object = None
    decided_at: object = None
    decided_by: object = None
    winner: Variant | None = None
    reason: str = ""
    rest: int | None = None  # waiting for the winner, or sent it
    can_pick: bool = False


def _last_entry(campaign: Campaign, action: str):
    """The campaign's latest audit entry of ``action`` (what the pick said
    when it was made), or None."""
    from smsportal.models import AuditLogEntry

    return (
        AuditLogEntry.objects.filter(
            object_type="campaigns.campaign", object_id=str(campaign.pk), action=action
        )
        .order_by("-id")
        .first()
    )


def summary(campaign: Campaign) -> Summary | None:
    """The A/B test of the campaign page (None when it is not one)."""
    from . import engagement

    if campaign.ab_test_share is None:
        return None
    variants = list(campaign.variants.order_by("label"))
    launched = campaign.materialised_at is not None
    figures = engagement.variant_figures(campaign) if launched else {}
    rows = [
        VariantRow(
            variant=v,
            figures=figures.get(v.pk),
            score=score(figures.get(v.pk), campaign.ab_metric),
            is_winner=v.pk == campaign.ab_winner_id,
        )
        for v in variants
    ]
    result = Summary(
        share=campaign.ab_test_share,
        wait=wait_text(campaign.ab_wait_minutes),
        metric=campaign.ab_metric,
        metric_name=METRIC_NAMES.get(campaign.ab_metric, campaign.ab_metric),
        auto=campaign.ab_auto_winner,
        state="planned",
        variants=rows,
        ends_at=campaign.ab_test_ends_at,
        decided_at=campaign.ab_decided_at,
        decided_by=campaign.ab_decided_by,
        winner=next((r.variant for r in rows if r.is_winner), None),
    )
    now = timezone.now()
    if campaign.ab_winner_id is not None:
        result.state = "decided"
        entry = _last_entry(campaign, "campaign.ab_winner")
        result.rest = entry.details.get("rest") if entry else None
    elif not launched:
        result.state = "planned"
    elif campaign.state == State.CANCELLED:
        result.state = "cancelled"
    else:
        result.rest = rest_count(campaign)
        if campaign.ab_decided_at is not None:
            result.state = "undecided"
            entry = _last_entry(campaign, "campaign.ab_undecided")
            result.reason = entry.details.get("reason", "") if entry else ""
        elif campaign.ab_test_ends_at and campaign.ab_test_ends_at > now:
            result.state = "testing"
        else:
            result.state = "deciding" if campaign.ab_auto_winner else "picking"
        result.can_pick = can_pick(campaign)
    return result
