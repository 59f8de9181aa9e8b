"""Tracked short links: each URL of a campaign's text becomes, per
recipient, a short link of its own on ``SHORT_LINK_BASE_URL`` with a code
nobody can guess or enumerate; the redirect (campaigns/redirect.py) sends
the recipient on and records the click.

- URLs are found as people write them in a text (``https://…``,
  ``http://…``, ``www.…``); punctuation that ends a sentence around a URL
  (``.,;:!?)»"'``) is not part of it, a ``)`` closing a ``(`` of the URL is.
- What the redirect sends to is validated when the link is written: an
  http or https address of a host, nothing else (never a ``javascript:``
  or a scheme-relative address), ASCII as a ``Location`` header needs it.
- Codes are ``CODE_LENGTH`` characters of [0-9A-Za-z] from ``secrets``
  (62⁸ ≈ 2·10¹⁴ of them); the unique index decides, and a code some link
  already has is drawn again, so no message ever loses its link.
- A DLT template's fixed text cannot change (the message would no longer
  match what is registered): only URLs inside its ``{#var#}`` parts become
  short links, where the short link fits the variable part's limit.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.encoding import iri_to_uri

from smsportal import prepared

from . import dlt
from .models import Click, Message, ShortLink

CODE_LENGTH = 8
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CODE = re.compile(rf"[0-9A-Za-z]{{{CODE_LENGTH}}}")
# The code the composer shows in its samples (and counts with): a short
# link is as long whatever its code.
SAMPLE_CODE = "aB3dE5fG"
# Longer addresses stay in the text as written (no browser or provider
# takes much more, and a short link of one would be an odd thing to send).
MAX_URL_LENGTH = 2000

# Where a URL starts: a scheme, or "www." not inside a word, an address or
# a path.
_URL = re.compile(r"(?<![\w@.\-/])(?:https?://|www\.)[^\s<>\"“”‘’«»]+", re.IGNORECASE)
# What ends a sentence around a URL rather than the URL itself.
_TRAILING = frozenset(".,;:!?)]}»\"'*…”’")
_CLOSING = {")": "(", "]": "[", "}": "{"}
# A host as people write it (letters of any script for international names).
_HOST = re.compile(r"[^\W_](?:[\w-]*[^\W_])?(?:\.[^\W_](?:[\w-]*[^\W_])?)*", re.UNICODE)


def _url_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, URL as written) of each URL of ``text``, in order."""
    found = []
    for match in _URL.finditer(text):
        url = match.group()
        while url and url[-1] in _TRAILING:
            last = url[-1]
            opening = _CLOSING.get(last)
            if opening and url.count(opening) >= url.count(last):
                break  # "(…)" of the URL itself, as in a wiki address
            url = url[:-1]
        if _looks_like_url(url):
            found.append((match.start(), match.start() + len(url), url))
    return found


def _looks_like_url(url: str) -> bool:
    lowered = url.lower()
    bare = lowered.startswith("www.")
    try:
        parts = urlsplit(f"https://{url}" if bare else url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return False
    if not _HOST.fullmatch(host):
        return False
    # "www.example" alone is a word with a dot; "www.example.com" an address.
    return not bare or host.count(".") >= 2


def find_urls(text: str) -> list[str]:
    """The URLs of a text as written, in order."""
    return [url for _, _, url in _url_spans(text or "")]


def target(url: str) -> str | None:
    """Where a short link for ``url`` (as written) sends: an absolute http or
    https address in ASCII (international host names in IDNA, other
    characters percent-encoded), or None where it is not one to send
    anyone to."""
    if url.lower().startswith("www."):
        url = f"https://{url}"
    if len(url) > MAX_URL_LENGTH or any(ord(c) < 33 or ord(c) == 127 for c in url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host or not _HOST.fullmatch(host):
        return None
    if "@" in parts.netloc:
        return None  # user:password@host: not something to pass on
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    netloc = ascii_host + (f":{port}" if port is not None else "")
    rest = url[len(parts.scheme) + 3 + len(parts.netloc) :]
    location = f"{parts.scheme.lower()}://{netloc}{iri_to_uri(rest)}"
    return location if len(location) <= MAX_URL_LENGTH else None


def is_safe_location(url: str) -> bool:
    """What the redirect checks again before sending anyone on."""
    return url.startswith(("https://", "http://")) and target(url) == url


def short_url(code: str) -> str:
    return settings.SHORT_LINK_BASE_URL + code


def short_length() -> int:
    """Characters a short link takes in a message."""
    return len(settings.SHORT_LINK_BASE_URL) + CODE_LENGTH


def _own_short_link(url: str) -> bool:
    """A short link of ours pasted into a text: sent as it is."""
    base = settings.SHORT_LINK_BASE_URL
    return url.startswith(base) and bool(CODE.fullmatch(url[len(base) :]))


# -- codes --------------------------------------------------------------------------------

_SPACE = len(ALPHABET) ** CODE_LENGTH  # < 2**48: six random bytes draw one


def _code(value: int) -> str:
    digits = []
    for _ in range(CODE_LENGTH):
        value, digit = divmod(value, 62)
        digits.append(ALPHABET[digit])
    return "".join(digits)


def new_codes(n: int, *, taken: Iterable[str] = ()) -> list[str]:
    """``n`` distinct random codes (none of ``taken``), each uniformly one of
    62⁸: six random bytes per draw, a draw beyond the last multiple of the
    space thrown away (so no code is likelier than another)."""
    codes: list[str] = []
    seen = set(taken)
    while len(codes) < n:
        data = secrets.token_bytes(6 * (n - len(codes) + 8))
        for i in range(0, len(data), 6):
            value = int.from_bytes(data[i : i + 6], "big")
            if value >= _SPACE:
                continue
            code = _code(value)
            if code in seen:
                continue
            seen.add(code)
            codes.append(code)
            if len(codes) == n:
                break
    return codes


def is_code(value: str) -> bool:
    return bool(CODE.fullmatch(value))


# -- which campaigns ----------------------------------------------------------------------


def variant_texts(campaign) -> dict[int, str]:
    """The campaign's A/B variant texts by id (none for an unsaved one)."""
    if not getattr(campaign, "pk", None):
        return {}
    return {v.id: v.text for v in campaign.variants.all()}


def uses_short_links(campaign, texts: dict[int, str] | None = None) -> bool:
    """Whether the campaign's URLs become tracked short links: "Track links"
    on, the provider's own click tracking off, not one text sent to the
    provider's lists, and a URL in its text or a variant's. ``texts``: the
    variant texts, where the caller has them."""
    if not getattr(campaign, "track_links", False) or getattr(campaign, "click_tracking", False):
        return False
    if getattr(campaign, "provider_lists", "") and campaign.provider_list_ids:
        return False
    if find_urls(campaign.text or ""):
        return True
    if texts is None:
        texts = variant_texts(campaign)
    return any(find_urls(text) for text in texts.values())


# -- rewriting texts ----------------------------------------------------------------------


def _var_spans(template: dlt.Template, text: str) -> list[tuple[int, int]] | None:
    """Where each ``{#var#}`` part of ``template`` is in ``text`` (one way the
    text matches), or None when it does not match. The positions reachable
    after each literal part are found as ``dlt.Template.matches`` does, then
    walked back from the end."""
    first, *rest = template.parts
    if not rest:
        return [] if text == first else None
    if not text.startswith(first):
        return None
    every = (1 << (len(text) + 1)) - 1
    reaches = [1 << len(first)]
    for literal in rest:
        reach = dlt._widen(reaches[-1]) & every
        if literal:
            reach = (reach & dlt._starts(text, literal)) << len(literal)
        if not reach:
            return None
        reaches.append(reach)
    if not reaches[-1] >> len(text) & 1:
        return None
    spans = []
    end = len(text)
    for index in range(len(rest), 0, -1):
        var_end = end - len(rest[index - 1])
        low = max(0, var_end - dlt.VAR_MAX)
        window = reaches[index - 1] >> low & ((1 << (var_end - low + 1)) - 1)
        # The earliest start: the widest variable part.
        start = low + (window & -window).bit_length() - 1
        spans.append((start, var_end))
        end = start
    spans.reverse()
    return spans


def replaceable(text: str, template: dlt.Template | None = None) -> list[tuple[int, int, int, str]]:
    """The URLs of ``text`` that become short links: (start, end, position
    among the text's URLs, target). With a DLT ``template`` (a message to
    India), only those inside a variable part, while the part with its
    short links stays within the variable limit."""
    spans = _url_spans(text)
    found = []
    for position, (start, end, url) in enumerate(spans):
        if _own_short_link(url):
            continue
        location = target(url)
        if location is not None:
            found.append((start, end, position, location))
    if template is None or not found:
        return found
    parts = _var_spans(template, text)
    if parts is None:
        return []  # refused by the DLT check anyway: left as written
    length = short_length()
    kept = []
    grown = dict.fromkeys(parts, 0)
    for start, end, position, location in found:
        part = next((p for p in parts if p[0] <= start and end <= p[1]), None)
        if part is None:
            continue  # (partly) the template's own text
        growth = grown[part] + length - (end - start)
        if part[1] - part[0] + growth > dlt.VAR_MAX:
            continue
        grown[part] = growth
        kept.append((start, end, position, location))
    return kept


def _rewrite(text: str, spans, codes) -> str:
    pieces, at = [], 0
    for (start, end, *_), code in zip(spans, codes, strict=True):
        pieces += [text[at:start], short_url(code)]
        at = end
    pieces.append(text[at:])
    return "".join(pieces)


def sample_text(text: str, template: dlt.Template | None = None) -> str:
    """``text`` as a recipient gets it, its tracked URLs as short links with
    the sample code (the composer's samples and counts)."""
    spans = replaceable(text, template)
    return _rewrite(text, spans, [SAMPLE_CODE] * len(spans)) if spans else text


def tracked_count(text: str) -> int:
    """URLs of a text that become short links (outside DLT)."""
    return len(replaceable(text))


def shorten(campaign_id: int, items: list[tuple[int, str, dlt.Template | None]]) -> list[str]:
    """Replace the URLs of rendered message texts with short links: ``items``
    are (message id, text, DLT template for a message to India or None).
    Writes their ShortLink rows (one INSERT for the batch; codes some link
    already had are drawn again and written again, so every message keeps
    its links) and returns the texts with the short links, in order. Call it
    in the transaction that writes the texts."""
    spans = [replaceable(text, template) for _, text, template in items]
    rows = [
        [message_id, position, location]
        for (message_id, _, _), found in zip(items, spans, strict=True)
        for _, _, position, location in found
    ]
    if not rows:
        return [text for _, text, _ in items]
    codes = new_codes(len(rows))
    pending = list(range(len(rows)))
    now = timezone.now()
    with transaction.atomic():
        for _ in range(10):
            written = _insert(campaign_id, [(codes[i], *rows[i]) for i in pending], now)
            pending = [i for i in pending if codes[i] not in written]
            if not pending:
                break
            for i, code in zip(pending, new_codes(len(pending), taken=codes), strict=True):
                codes[i] = code
        else:  # pragma: no cover - ten collisions in a row cannot happen by chance
            raise RuntimeError("short link codes kept colliding")
    texts, at = [], 0
    for (_, text, _), found in zip(items, spans, strict=True):
        texts.append(_rewrite(text, found, codes[at : at + len(found)]) if found else text)
        at += len(found)
    return texts


def _insert(campaign_id: int, rows: list[tuple[str, int, int, str]], now) -> set[str]:
    """Insert (code, message id, position, URL) rows; the codes written (a
    code another link has is left out, not an error)."""
    if connection.vendor == "postgresql":
        from .delivery import array_cursor

        table = connection.ops.quote_name(ShortLink._meta.db_table)
        codes, messages, positions, urls = (list(column) for column in zip(*rows, strict=True))
        with array_cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (code, message_id, campaign_id, position, url, created_at) "  # noqa: S608 - the model's own table
                "SELECT v.code, v.message_id, %b, v.position, v.url, %b FROM "
                "unnest(%b::text[], %b::bigint[], %b::smallint[], %b::text[]) "
                "AS v(code, message_id, position, url) "
                "ON CONFLICT (code) DO NOTHING RETURNING code",
                [campaign_id, now, codes, messages, positions, urls],
            )
            return {row[0] for row in cursor.fetchall()}
    ShortLink.objects.bulk_create(
        [
            ShortLink(
                code=code,
                message_id=message_id,
                campaign_id=campaign_id,
                position=position,
                url=url,
                created_at=now,
            )
            for code, message_id, position, url in rows
        ],
        batch_size=500,
        ignore_conflicts=True,
    )
    ours = {(code, message_id, position) for code, message_id, position, _ in rows}
    written = set()
    for start in range(0, len(rows), 500):
        chunk = [row[0] for row in rows[start : start + 500]]
        for found in ShortLink.objects.filter(code__in=chunk).values_list(
            "code", "message_id", "position"
        ):
            if found in ours:
                written.add(found[0])
    return written


# -- the composer's DLT checks ------------------------------------------------------------


@dataclass
class DltLinks:
    """What tracked links do to messages for India under a DLT template,
    gathered over their rendered texts (``see``) for the composer's
    checks."""

    template: dlt.Template
    seen: int = 0
    in_variables: int = 0  # URLs in {#var#} parts
    too_short: int = 0  # of them, shorter than a short link and over the limit with one
    fixed: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.fixed = [u for u in find_urls(self.template.content) if not _own_short_link(u)]

    def see(self, text: str) -> None:
        self.seen += 1
        parts = _var_spans(self.template, text)
        if not parts:
            return
        for start, end, url in _url_spans(text):
            if any(p[0] <= start and end <= p[1] for p in parts) and target(url):
                self.in_variables += 1
                if end - start < short_length():
                    self.too_short += 1

    def problems(self) -> tuple[list[str], list[str]]:
        """(errors, warnings)."""
        errors, warnings = [], []
        if not self.seen:
            return errors, warnings
        if self.fixed:
            shown = ", ".join(self.fixed[:3]) + (" …" if len(self.fixed) > 3 else "")
            warnings.append(
                f"The DLT template's own link{'s' if len(self.fixed) > 1 else ''} ({shown}) "
                "stay as written in messages to India and are not tracked: a short link "
                "there would no longer match the registered template."
            )
        length = short_length()
        if self.in_variables and length > dlt.VAR_MAX:
            errors.append(
                f"Links in the DLT template's variable parts become short links of {length} "
                f"characters ({settings.SHORT_LINK_BASE_URL}…), over the {dlt.VAR_MAX} a "
                "variable part may have: set a shorter SHORT_LINK_BASE_URL (a short host of "
                "its own, such as https://s.example.com/) or switch “Track links” off."
            )
        elif self.too_short:
            warnings.append(
                f"{self.too_short} link(s) in the DLT template's variable parts would be over "
                f"its {dlt.VAR_MAX} characters as a short link: they stay as written, not "
                "tracked."
            )
        return errors, warnings


# -- clicks -------------------------------------------------------------------------------

# Link previews: chat apps, social networks and search engines fetching a
# link to show a card (iMessage fetches as facebookexternalhit + Twitterbot,
# so it is among them), and scripts.
_PREVIEW = re.compile(
    r"facebookexternalhit|facebot|meta-external|whatsapp|slackbot|slack-imgproxy|"
    r"telegrambot|twitterbot|linkedinbot|discordbot|skypeuripreview|microsoftpreview|"
    r"applebot|googlebot|google-|apis-google|googleother|adsbot|mediapartners|feedfetcher|"
    r"bingbot|bingpreview|msnbot|baiduspider|duckduckbot|petalbot|"
    r"redditbot|embedly|vkshare|line-poker|kakaotalk-scrap|"
    r"(?<!cu)bot\b|bot/|crawl|spider|slurp|preview|fetcher|scraper|headless|"
    r"curl/|wget/|python-|httpx|aiohttp|go-http-client|java/|okhttp|libwww|httpclient|"
    r"node-fetch|axios/|postman|insomnia|^$",
    re.IGNORECASE,
)
_MOBILE = re.compile(
    r"mobi|android|iphone|ipod|ipad|windows phone|blackberry|bb10|opera mini|kaios|silk/",
    re.IGNORECASE,
)
_DESKTOP = re.compile(r"windows nt|macintosh|mac os x|x11|linux|cros", re.IGNORECASE)


@lru_cache(maxsize=2048)
def classify(user_agent: str, method: str = "GET") -> tuple[str, bool]:
    """(agent class, is a bot) of a request for a short link: "head" for a
    HEAD request, "preview" for link-preview fetchers, crawlers and scripts
    (both bots, never counted as clicks); else "mobile", "desktop" or
    "other"."""
    if method.upper() == "HEAD":
        return "head", True
    user_agent = (user_agent or "").strip()
    if _PREVIEW.search(user_agent):
        return "preview", True
    if _MOBILE.search(user_agent):
        return "mobile", False
    if _DESKTOP.search(user_agent):
        return "desktop", False
    return "other", False


_UNSET = object()


def record_click(
    *,
    campaign_id: int,
    message_id: int | None = None,
    link_id: int | None = None,
    variant_id=_UNSET,
    agent: str = "",
    is_bot: bool = False,
    source: str = Click.Source.LINK,
    payload: dict | None = None,
    at=None,
) -> Click:
    """Write one Click. The message's A/B variant is looked up unless given."""
    if variant_id is _UNSET:
        variant_id = None
        if message_id is not None:
            variant_id = (
                Message.objects.filter(pk=message_id).values_list("variant_id", flat=True).first()
            )
    return Click.objects.create(
        campaign_id=campaign_id,
        message_id=message_id,
        link_id=link_id,
        variant_id=variant_id,
        agent=agent[:16],
        is_bot=is_bot,
        source=source,
        payload=payload or {},
        at=at or timezone.now(),
    )


def follow(code: str, *, agent: str, is_bot: bool) -> str | None:
    """The redirect's work: the stored URL of ``code`` (None when no link
    has it), its click recorded. On PostgreSQL one statement: the indexed
    look-up of the code and the INSERT of the click."""
    now = timezone.now()
    links = connection.ops.quote_name(ShortLink._meta.db_table)
    if connection.vendor == "postgresql":
        clicks = connection.ops.quote_name(Click._meta.db_table)
        messages = connection.ops.quote_name(Message._meta.db_table)
        # The statement is its own transaction, and a click need not wait
        # for the disk: its commit is asynchronous (set for this transaction
        # only). A database crash may lose the last fraction of a second of
        # clicks, never anything else, and never leaves a half-written one.
        sql = (
            f"WITH link AS (SELECT id, message_id, campaign_id, url FROM {links} "  # noqa: S608 - the models' own tables
            "WHERE code = %s), "
            f"clicked AS (INSERT INTO {clicks} (link_id, message_id, campaign_id, variant_id, "
            "source, agent, is_bot, payload, at) "
            "SELECT link.id, link.message_id, link.campaign_id, m.variant_id, %s, %s, %s, "
            f"'{{}}'::jsonb, %s FROM link LEFT JOIN {messages} m ON m.id = link.message_id) "
            "SELECT link.url, set_config('synchronous_commit', 'off', true) FROM link"
        )
        row = prepared.execute(sql, [code, Click.Source.LINK, agent, is_bot, now], fetchone=True)
        return row[0] if row else None
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, message_id, campaign_id, url FROM {links} WHERE code = %s",  # noqa: S608
            [code],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    link_id, message_id, campaign_id, url = row
    record_click(
        campaign_id=campaign_id,
        message_id=message_id,
        link_id=link_id,
        agent=agent,
        is_bot=is_bot,
        at=now,
    )
    return url
