"""Clicks a provider reports on links it shortened itself (its own click
tracking, such as Infobip's urlOptions with a ``trackingUrl``): recorded as
``Click(source="provider")`` beside the clicks on our own short links.

Only what can be verified is recorded: a click report that names a message
this account sent (by the provider's message ID, or by our own reference,
which Infobip carries as the message ID), to the number the report names
where it names one. The report is kept as it came in the click's payload;
a report the provider sends twice is one click. What cannot be verified is
never counted: it goes back to ``providers.clicks`` with why, and is kept
there as not verified.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from django.utils import timezone

from providers.base import ClickReport
from providers.models import ProviderAccount
from providers.screening import ref_number

from .models import Click, Message

# Ids per query (SQLite takes at most 32,766 parameters in a statement).
CHUNK = 5000


def record_provider_clicks(
    account: ProviderAccount, clicks: Sequence[ClickReport]
) -> list[str | None]:
    """Record the verified clicks of one click report. Returns, per click in
    order, None where it is recorded (now, or already before) or why it
    could not be verified."""
    outcome: list[str | None] = [click.problem or None for click in clicks]
    wanted = [index for index, click in enumerate(clicks) if not click.problem]
    found = _messages_named(account, [clicks[index] for index in wanted])
    now = timezone.now()
    new: list[Click] = []
    for position, index in enumerate(wanted):
        click = clicks[index]
        message = found.get(position)
        if message is None:
            outcome[index] = (
                f"no message this account sent has the ID {_shown(click.provider_message_id)}"
            )
            continue
        if click.recipient and not _same_number(click.recipient, message["phone"]):
            outcome[index] = (
                f"message {message['id']} went to another number than {_shown(click.recipient)}"
            )
            continue
        new.append(
            Click(
                message_id=message["id"],
                campaign_id=message["campaign_id"],
                variant_id=message["variant_id"],
                source=Click.Source.PROVIDER,
                agent=click.agent or "other",
                is_bot=False,
                payload=click.raw if isinstance(click.raw, dict) else {"report": click.raw},
                at=click.at or now,
            )
        )
    Click.objects.bulk_create(_not_recorded_yet(new))
    return outcome


def _messages_named(account: ProviderAccount, clicks: Sequence[ClickReport]) -> dict[int, dict]:
    """The message each click names (by position in ``clicks``): one this
    account sent, by the provider's message ID or else by our reference."""
    columns = ("id", "campaign_id", "variant_id", "phone", "provider_message_id")
    sent = Message.objects.filter(account=account, submitted_at__isnull=False)
    provider_ids = sorted({c.provider_message_id for c in clicks if c.provider_message_id})
    by_provider_id: dict[str, dict] = {}
    for start in range(0, len(provider_ids), CHUNK):
        for row in sent.filter(provider_message_id__in=provider_ids[start : start + CHUNK]).values(
            *columns
        ):
            by_provider_id[row["provider_message_id"]] = row
    refs = [ref_number(c.ref) for c in clicks]
    wanted = sorted({ref for ref in refs if ref is not None})
    by_ref: dict[int, dict] = {}
    for start in range(0, len(wanted), CHUNK):
        for row in sent.filter(id__in=wanted[start : start + CHUNK]).values(*columns):
            by_ref[row["id"]] = row
    found = {}
    for position, click in enumerate(clicks):
        if click.provider_message_id in by_provider_id:
            found[position] = by_provider_id[click.provider_message_id]
        elif refs[position] in by_ref:
            found[position] = by_ref[refs[position]]
    return found


def _not_recorded_yet(new: list[Click]) -> list[Click]:
    """Leave out the clicks recorded before (the same report of the same
    message, sent again or applied again) and repeats within ``new``."""
    if not new:
        return []
    seen = {
        (message_id, _key(payload))
        for message_id, payload in Click.objects.filter(
            source=Click.Source.PROVIDER, message_id__in={c.message_id for c in new}
        ).values_list("message_id", "payload")
    }
    out = []
    for click in new:
        key = (click.message_id, _key(click.payload))
        if key not in seen:
            seen.add(key)
            out.append(click)
    return out


def _key(payload) -> str:
    return json.dumps(payload, sort_keys=True, ensure_ascii=False)


_NOT_DIGITS = re.compile(r"\D")


def _same_number(reported: str, phone: str) -> bool:
    """Infobip writes numbers without "+" (41793026727); we keep E.164."""
    return _NOT_DIGITS.sub("", reported) == _NOT_DIGITS.sub("", phone)


def _shown(value: str) -> str:
    return repr(value[:40] + "…" if len(value) > 40 else value)
