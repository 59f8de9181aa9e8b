"""Bench data made set-based in SQL (the setup is not what is measured), and
the objects around it made through the models."""

from __future__ import annotations

import csv
import random
from decimal import Decimal

from django.contrib.auth.models import Group, User
from django.db import connection

from campaigns.models import Approval, Campaign, CampaignCounter, Message, SenderID
from contacts.models import Contact, ContactList, ListMembership, Suppression
from providers.models import ProviderAccount, RateCardEntry
from smsportal import roles

TEXT = "Spring sale: 20% off everything until Sunday. Reply STOP to opt out."


def execute(sql: str, params: list | tuple = ()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def account(name: str, kind: str, *, base_url: str, api_key: str, throughput: int, **options):
    acc = ProviderAccount(
        name=name,
        kind=kind,
        base_url=base_url,
        options=options,
        throughput=throughput,
        default_price=Decimal("0.05"),
    )
    acc.credentials = {"api_key": api_key}
    acc.save()
    RateCardEntry.objects.create(account=acc, country="DE", price=Decimal("0.075"))
    return acc


def sender(value: str, *accounts: ProviderAccount) -> SenderID:
    s = SenderID.objects.filter(value=value).first()
    if s is None:
        s = SenderID(value=value, status=Approval.APPROVED)
        s.clean()
        s.save()
    s.accounts.add(*accounts)
    return s


def contacts(n: int, *, first: int) -> tuple[int, int]:
    """n German mobile numbers +49151<8 digits> from ``first``; returns the
    id range they got."""
    c = Contact._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {c} (phone, first_name, last_name, attributes, country, time_zone,
                    created_at, updated_at)
                SELECT '+49151' || lpad(g::text, 8, '0'), 'Kim', 'Meyer', '{{}}'::jsonb, 'DE',
                    'Europe/Berlin', now(), now()
                FROM generate_series(%s, %s) g
                RETURNING id""",
            [first, first + n - 1],
        )
        ids = [row[0] for row in cursor.fetchall()]
    return min(ids), max(ids)


def contact_list(name: str, id_range: tuple[int, int], *, every: int = 1) -> ContactList:
    cl = ContactList.objects.create(name=name)
    execute(
        f"""INSERT INTO {ListMembership._meta.db_table} (contact_list_id, contact_id, added_at)
            SELECT %s, id, now() FROM {Contact._meta.db_table}
            WHERE id BETWEEN %s AND %s AND id %% %s = 0""",
        [cl.pk, *id_range, every],
    )
    ContactList.recount_members([cl.pk])
    return cl


def suppress(id_range: tuple[int, int], every: int) -> int:
    return execute(
        f"""INSERT INTO {Suppression._meta.db_table} (phone, reason, note, created_at)
            SELECT phone, 'manual', '', now() FROM {Contact._meta.db_table}
            WHERE id BETWEEN %s AND %s AND id %% %s = 7 ON CONFLICT DO NOTHING""",
        [*id_range, every],
    )


def running_campaign(name: str, acc: ProviderAccount, snd: SenderID, *lists) -> Campaign:
    """A campaign ready for the engine. Its state is set directly rather than
    through ``campaign_launch``, which would queue materialise and dispatch
    tasks before the benchmark starts its clock."""
    from django.utils import timezone

    campaign = Campaign.objects.create(
        name=name,
        text=TEXT,
        sender=snd,
        account=acc,
        state=Campaign.State.RUNNING,
        launched_at=timezone.now(),
    )
    campaign.lists.add(*lists)
    return campaign


def analyst() -> User:
    user = User.objects.create_user("bench-analyst", "analyst@example.com", "x" * 20)
    user.groups.add(Group.objects.get_or_create(name=roles.ANALYST)[0])
    return user


# -- the message log at scale ---------------------------------------------------------


def message_history(rows: int, campaigns: int) -> list[Campaign]:
    """``rows`` sent messages over ``campaigns`` campaigns, each materialised
    after the other (so a campaign's rows are one id range, as in real use):
    half German, a quarter French, a quarter British numbers; 80% delivered,
    10% undelivered, 5% rejected, 5% still accepted."""
    acc = account("History", "sandbox", base_url="", api_key="-", throughput=1000)
    snd = sender("History", acc)
    per = rows // campaigns
    made = []
    m = Message._meta.db_table
    for index in range(campaigns):
        campaign = Campaign.objects.create(
            name=f"History {index + 1}",
            text=TEXT,
            sender=snd,
            account=acc,
            state=Campaign.State.COMPLETED,
        )
        lo, hi = index * per + 1, (index + 1) * per
        execute(
            f"""INSERT INTO {m} (campaign_id, contact_id, is_test, phone, country, time_zone, text,
                    encoding, segments, account_id, provider_message_id, status, skip_reason,
                    error_code, error_description, estimated_cost, actual_cost, currency,
                    attempts, not_before, created_at, submitted_at, sent_at, done_at)
                SELECT %(c)s, NULL, false,
                    CASE WHEN g %% 2 = 0 THEN '+49151' WHEN g %% 4 = 1 THEN '+33612'
                         ELSE '+44791' END || lpad(g::text, 8, '0'),
                    CASE WHEN g %% 2 = 0 THEN 'DE' WHEN g %% 4 = 1 THEN 'FR' ELSE 'GB' END,
                    '', %(text)s, 'GSM-7', 1, %(a)s, g::text, s.status, '',
                    CASE s.status WHEN 'undelivered' THEN 'EC_ABSENT_SUBSCRIBER'
                                  WHEN 'rejected' THEN 'REJECTED_DESTINATION' ELSE '' END,
                    CASE s.status WHEN 'undelivered' THEN 'Absent Subscriber'
                                  WHEN 'rejected' THEN 'Destination rejected' ELSE '' END,
                    0.075, CASE WHEN s.status = 'accepted' THEN NULL ELSE 0.075 END, 'EUR', 1,
                    NULL, t, t, t, CASE WHEN s.status = 'accepted' THEN NULL ELSE t END
                FROM generate_series(%(lo)s, %(hi)s) g,
                LATERAL (SELECT CASE WHEN g %% 20 < 16 THEN 'delivered'
                                     WHEN g %% 20 < 18 THEN 'undelivered'
                                     WHEN g %% 20 = 18 THEN 'rejected'
                                     ELSE 'accepted' END AS status,
                                now() - interval '30 days' + g * interval '100 milliseconds' AS t) s
            """,
            {"c": campaign.pk, "a": acc.pk, "text": TEXT, "lo": lo, "hi": hi},
        )
        made.append(campaign)
    execute(
        f"""INSERT INTO {CampaignCounter._meta.db_table} (campaign_id, account_id, country, day,
                status, count, estimated_cost, actual_cost, segments, is_squashed)
            SELECT campaign_id, account_id, country, current_date, status, count(*),
                sum(estimated_cost), coalesce(sum(actual_cost), 0), sum(segments), true
            FROM {m} GROUP BY campaign_id, account_id, country, status"""
    )
    execute(f"ANALYZE {m}")
    return made


# -- the import file --------------------------------------------------------------------

_FIRST = ["Anna", "Ben", "Chloé", "Deniz", "Emil", "Fatma", "Jürgen", "Lea", "Noah", "Zoë"]


def _variants(rng: random.Random, n: int) -> str:
    """Number ``n`` in one of the ways people write it; its country follows
    from ``n``, so a repeat is the same number written another way."""
    sub = f"{n % 100_000_000:08d}"
    country = n % 3
    kind = rng.randrange(4)
    if country == 0:
        return [
            f"+49 151 {sub[:4]} {sub[4:]}",
            f"0151{sub}",  # national: needs the default region
            f"0049151{sub}",
            f"(0151) {sub[:4]}-{sub[4:]}",
        ][kind]
    if country == 1:
        pairs = f"{sub[:2]} {sub[2:4]} {sub[4:6]} {sub[6:]}"
        return [f"+33 6 {pairs}", f"+336{sub}", f"0033 6 {pairs}", f"+33 (0)6 {pairs}"][kind]
    return [f"+44 79{sub}", f"+44 79 {sub[:4]} {sub[4:]}", f"004479{sub}", f"+44-79-{sub}"][kind]


def _invalid(rng: random.Random) -> str:
    return rng.choice(["12345", "+49 151 12", "not a number", "+999 1234567", "0151-abc", ""])


def import_file(path: str, rows: int, *, seed: int = 9) -> dict:
    """A CSV of ``rows`` contacts: mixed national and international formats,
    10% invalid numbers, 5% repeats of an earlier number written another
    way. Numbers from 70,000,000 up, clear of the other scenarios' ranges."""
    rng = random.Random(seed)
    written = invalid = duplicates = 0
    seen: list[int] = []
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["phone", "first_name", "last_name", "city"])
        for i in range(rows):
            roll = rng.random()
            if roll < 0.10:
                phone = _invalid(rng)
                invalid += 1
            elif roll < 0.15 and seen:
                phone = _variants(rng, rng.choice(seen))
                duplicates += 1
            else:
                n = 70_000_000 + i
                if len(seen) < 100_000:
                    seen.append(n)
                phone = _variants(rng, n)
            out.writerow([phone, rng.choice(_FIRST), "Meyer", "Berlin"])
            written += 1
    return {"rows": written, "invalid": invalid, "duplicates": duplicates}
