"""Segment conditions about campaigns, registered with contacts' segments
(contacts knows nothing of campaigns)."""

from django.db.models import Exists, OuterRef, Q

from contacts import segments
from providers.status import SUBMITTED

from .models import Campaign, Click, Message


def _clean(value: str) -> str:
    return segments.pick(Campaign.objects.all(), value, "campaign")


def _q(op: str, value: str) -> Q:
    # "Received" means a message to the contact was submitted.
    sent = Message.objects.filter(
        contact_id=OuterRef("pk"),
        campaign_id=int(value),
        is_test=False,
        status__in=sorted(SUBMITTED),
    )
    if op in ("clicked", "not_clicked"):
        # A click by a person on one of the links of the contact's message
        # (link previews are not clicks), through the clicks' campaign index.
        clicked = Click.objects.filter(
            campaign_id=int(value),
            is_bot=False,
            message__contact_id=OuterRef("pk"),
            message__is_test=False,
        )
        if op == "clicked":
            return Q(Exists(clicked))
        # Sent a message from the campaign, and clicked none of its links.
        return Q(Exists(sent)) & ~Q(Exists(clicked))
    return Q(Exists(sent)) if op == "received" else ~Q(Exists(sent))


def _describe(value: str) -> str:
    return str(Campaign.objects.filter(pk=value).first() or f"#{value}")


def _suggest():
    return Campaign.objects.values_list("name", flat=True)[:200]


def _choices():
    # The newest marketing campaigns that went out (keyword-reply logs are
    # not something a person segments by).
    launched = Campaign.objects.filter(
        purpose=Campaign.Purpose.MARKETING, launched_at__isnull=False
    ).order_by("-launched_at")
    return [(str(pk), name) for pk, name in launched.values_list("pk", "name")[:500]]


segments.register(
    "campaign",
    "Campaign",
    {
        "received": "was sent a message from",
        "not_received": "was not sent a message from",
        "clicked": "clicked a link in",
        "not_clicked": "was sent but clicked no link in",
    },
    segments.Condition(clean=_clean, q=_q, describe=_describe, suggest=_suggest, choices=_choices),
    before="list",
)
