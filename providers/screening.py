"""Callbacks screened at the door.

A callback is parsed by its account's backend, stored, and applied later by
a worker (``campaigns.reports``). Whatever is stored must be something the
worker can apply, so before a backend reads a body, and again on what it
made of it, this module refuses what could never be applied:

- bodies nested deeper than ``MAX_DEPTH`` (JSON or XML; counted without
  building anything, so a body nested 100,000 deep costs what a flat one
  does), and XML with a document type in any encoding (UTF-16 included);
- reports and replies with a value their columns cannot hold: a number that
  is not finite (``1e999`` reads as infinity), a null character or an
  unpaired surrogate (JSON's ``\\ud800`` reads as one; PostgreSQL's text
  and ``jsonb`` can hold neither), a string longer than its column, a
  reference that reads as a number but is none of ours.

A refused callback is answered with 400 and stored nowhere.
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import math
import re
from decimal import Decimal
from typing import Any
from xml.parsers import expat

import orjson

from .base import (
    ClickReport,
    InboundSms,
    StatusReport,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
)
from .status import Status

# Providers' callbacks nest a few levels (Infobip's XML: results, result,
# status, groupId); nothing a provider sends goes anywhere near this.
MAX_DEPTH = 32

# The columns a report and a reply are stored in (campaigns.Message and
# MessageEvent, providers.InboundMessage).
MAX_ID = 200
MAX_CURRENCY = 3
MAX_NUMBER = 32  # a phone number or short code
MAX_KEYWORD = 64
MAX_SHORT_TEXT = 2000  # error codes and descriptions (cut shorter when stored)
MAX_TEXT = 100_000
MAX_SEGMENTS = 32767
# Costs are stored with 12 digits, 5 of them after the point.
MAX_COST = Decimal(10) ** 7
# Our references are message ids: positive 64-bit integers.
MAX_REF = 2**63 - 1
# Integers in a stored payload (JSON writes no longer ones).
MAX_INT_DIGITS = 4300
_INT_LIMIT = 10**MAX_INT_DIGITS
_STATUSES = frozenset(Status.values)
# Half of a UTF-16 pair on its own: a JSON escape such as \ud800 reads as
# one, and it has no UTF-8 form (the database refuses it).
_SURROGATE = re.compile("[\ud800-\udfff]")


def _unpaired(text: str) -> bool:
    """Whether ``text`` holds an unpaired surrogate."""
    return not text.isascii() and _SURROGATE.search(text) is not None


# ------------------------------------------------------------------- bodies


def check_body(body: bytes, content_type: str) -> None:
    """Refuse a body nested too deep, or XML with a document type, before
    any parser builds anything from it."""
    if _looks_like_xml(body, content_type):
        _check_xml(body)
    elif _looks_like_json(body, content_type) and json_depth_exceeds(body, MAX_DEPTH):
        raise WebhookRejected(f"the body is nested more than {MAX_DEPTH} levels deep")


_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _looks_like_xml(body: bytes, content_type: str) -> bool:
    if "xml" in content_type.lower():
        return True
    head = body[:64]
    for bom in _BOMS:
        head = head.removeprefix(bom)
    # UTF-16 without a mark has a zero byte beside each ASCII character.
    return head.lstrip(b" \t\r\n\x00").startswith(b"<")


def _looks_like_json(body: bytes, content_type: str) -> bool:
    if "json" in content_type.lower():
        return True
    return body.lstrip(b" \t\r\n").removeprefix(codecs.BOM_UTF8).startswith((b"{", b"["))


_ESCAPE = re.compile(rb"\\.", re.S)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_SQUARE = bytes.maketrans(b"{}", b"[]")


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether JSON text nests arrays and objects more than ``limit`` deep.

    Linear whatever the body: escapes and then strings are cut out (the
    pattern cannot backtrack; once escapes are gone, the text between the
    first quote and the next is a string, so a split at quotes drops every
    other piece), what is left is reduced to its brackets, and each pass of
    ``replace`` removes the innermost pairs, one level of nesting, in C.
    Brackets that are never closed count as a level each (such a body is
    not JSON, and is refused either way)."""
    if b"\\" in body:
        body = _ESCAPE.sub(b"", body)
    pieces = body.split(b'"')
    text = b"".join(pieces[::2])
    if len(pieces) % 2 == 0:
        # A quote never closed: what follows it stays, as it did in the text.
        text += pieces[-1]
    brackets = text.translate(_SQUARE, _NOT_BRACKETS)
    for level in range(limit + 1):
        inner = brackets.replace(b"[]", b"")
        if inner == brackets:
            # Nothing pairs up any more: "]]…[[…" is left, if anything.
            return level + inner.count(b"[") > limit
        brackets = inner
    return True


class _Refused(Exception):
    pass


def _check_xml(body: bytes) -> None:
    """One streaming pass of expat (which finds the encoding itself, from a
    byte-order mark or the declaration) with a depth count, refusing any
    document type or entity declaration."""
    parser = expat.ParserCreate()
    depth = 0

    def start(name, attributes):
        nonlocal depth
        depth += 1
        if depth > MAX_DEPTH:
            raise _Refused(f"the XML is nested more than {MAX_DEPTH} levels deep")

    def end(name):
        nonlocal depth
        depth -= 1

    def declaration(*args):
        raise _Refused("XML with a document type is not accepted")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = declaration
    parser.EntityDeclHandler = declaration
    try:
        parser.Parse(body, True)
    except _Refused as refused:
        raise WebhookRejected(str(refused)) from None
    except (expat.ExpatError, ValueError) as exc:
        raise WebhookRejected(f"the body is not XML: {exc}") from None


def check_request(request: WebhookRequest) -> None:
    """The query, form fields and headers are kept with the body: they must
    be storable as JSON too (no null character)."""
    for what, values in (("query", request.query), ("form", request.form)):
        if not _payload_fits(values):
            raise WebhookRejected(f"a {what} field holds a null character")
    if not _payload_fits(request.headers):
        raise WebhookRejected("a header holds a null character")


# ---------------------------------------------------- what a backend parsed


def check_result(result: WebhookResult) -> None:
    """Refuse a parsed callback holding anything its columns cannot hold."""
    # A report's payload is written out once here (in C), and the text kept
    # with it for its history row; the others are checked together. One by
    # one, walking them, only to say which is wrong.
    payloads_fit = _payload_fits([r.raw for r in result.inbound + result.clicks])
    for index, report in enumerate(result.reports):
        try:
            _check_report(report)
            text = _payload_text(report.raw)
            if text is None:
                check_payload(report.raw)
            # Kept where the history row keeps the payload as it is.
            report.raw_json = text if type(report.raw) in (dict, list) else None
        except WebhookRejected as refused:
            raise WebhookRejected(f"report {index + 1}: {refused}") from None
    for index, sms in enumerate(result.inbound):
        try:
            _check_inbound(sms)
            if not payloads_fit:
                check_payload(sms.raw)
        except WebhookRejected as refused:
            raise WebhookRejected(f"inbound message {index + 1}: {refused}") from None
    for index, click in enumerate(result.clicks):
        try:
            _check_click(click)
            if not payloads_fit:
                check_payload(click.raw)
        except WebhookRejected as refused:
            raise WebhookRejected(f"click report {index + 1}: {refused}") from None


def ref_number(ref: str) -> int | None:
    """Our reference (a message id) as a number, or None when ``ref`` is
    not one: only ASCII digits count (``"²".isdigit()`` is true, and
    ``int("١٢")`` is 12), within the range of ids."""
    if not (ref.isascii() and ref.isdigit()) or len(ref) > 19:
        return None
    number = int(ref)
    return number if 0 < number <= MAX_REF else None


def _check_report(report: StatusReport) -> None:
    texts = (
        (report.provider_message_id, MAX_ID),
        (report.ref, MAX_ID),
        (report.error_code, MAX_SHORT_TEXT),
        (report.error_description, MAX_SHORT_TEXT),
        (report.currency, MAX_CURRENCY),
    )
    if not _texts_fit(texts):
        _text("message id", report.provider_message_id, MAX_ID)
        _text("reference", report.ref, MAX_ID)
        _text("error code", report.error_code, MAX_SHORT_TEXT)
        _text("error description", report.error_description, MAX_SHORT_TEXT)
        _text("currency", report.currency, MAX_CURRENCY)
    if report.ref.isdigit() and ref_number(report.ref) is None:
        raise WebhookRejected(f"the reference {_shown(report.ref)} is not a message id")
    if report.status not in _STATUSES:
        raise WebhookRejected(f"unknown status {_shown(report.status)}")
    if report.cost is not None:
        if not isinstance(report.cost, Decimal) or not report.cost.is_finite():
            raise WebhookRejected("the price is not a number")
        if abs(report.cost) >= MAX_COST:
            raise WebhookRejected("the price is out of range")
    if report.segments is not None and (
        isinstance(report.segments, bool)
        or not isinstance(report.segments, int)
        or not 0 <= report.segments <= MAX_SEGMENTS
    ):
        raise WebhookRejected("the message count is out of range")
    _time("sent time", report.sent_at)
    _time("done time", report.done_at)


def _check_inbound(sms: InboundSms) -> None:
    _text("message id", sms.provider_message_id, MAX_ID)
    _text("sender", sms.sender, MAX_NUMBER)
    _text("recipient", sms.recipient, MAX_NUMBER)
    _text("text", sms.text, MAX_TEXT)
    _text("keyword", sms.keyword, MAX_KEYWORD)
    _time("receive time", sms.received_at)


def _check_click(click: ClickReport) -> None:
    _text("message id", click.provider_message_id, MAX_ID)
    _text("reference", click.ref, MAX_ID)
    _text("recipient", click.recipient, MAX_TEXT)
    _text("link", click.url, MAX_TEXT)
    _text("device class", click.agent, 16)
    _text("problem", click.problem, MAX_SHORT_TEXT)
    _time("click time", click.at)


def check_payload(value: Any) -> None:
    """A payload kept as JSON: plain JSON types only, finite numbers, no null
    character in any key or string, at most MAX_DEPTH deep."""
    if not _payload_fits(value):
        _walk(value)
        raise WebhookRejected("a value cannot be kept as JSON")


# Neither circular references (a RecursionError) nor non-ASCII text need
# looking for here: writing the text as it is is quicker.
_encode = json.JSONEncoder(allow_nan=False, check_circular=False, ensure_ascii=False).encode


def _payload_fits(value: Any) -> bool:
    """Whether ``value`` can be kept as JSON."""
    return _payload_text(value) is not None


# orjson writes what the json module would, about ten times as fast, but
# for what it writes otherwise or refuses where the json module does not:
# subclasses, dates and dataclasses (passed through here, so refused),
# integers beyond 64 bits and unpaired surrogates (refused), dictionary keys
# that are not text (refused), numbers that are not finite (written as null).
# Whatever it refuses, and any text holding null or \u0000, is written again
# by the json module and decided as before. Beyond that it also writes UUIDs
# and enums, which no parsed body holds.
_FAST_OPTIONS = (
    orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)


def _payload_text(value: Any) -> str | None:
    """``value`` as JSON text, or None when it cannot be kept as JSON:
    written out (in C, which refuses what is not JSON), then walked only if
    it may hold a null character (the six characters \\u0000 in a value
    read the same) or an unpaired surrogate."""
    try:
        fast = orjson.dumps(value, option=_FAST_OPTIONS)
    except (TypeError, RecursionError):
        fast = None
    if fast is not None and b"null" not in fast and b"\\u0000" not in fast:
        # No null anywhere: nothing was a number that is not finite.
        return fast.decode()
    try:
        text = _encode(value)
    except (TypeError, ValueError, RecursionError):
        return None
    if "\\u0000" not in text and not _unpaired(text):
        return text
    try:
        _walk(value)
    except WebhookRejected:
        return None
    return text


def storable(text: str) -> str:
    """``text`` as the database can keep it, the provider's words kept
    visibly: a null character written as ``\\x00``, an unpaired surrogate
    as its escape (``\\ud800``). For what a provider answered, which the
    door never screened: a message's error and its ID."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    if _unpaired(text):
        text = _SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)
    return text


def keepable_json(value: Any) -> str:
    """``value`` as JSON text the database can keep: as written by
    ``_payload_text`` where it can be kept as it is, else with each text
    made ``storable``, each number that is not finite and anything that is
    not JSON written as text, and what lies deeper than MAX_DEPTH replaced
    by a note saying so. For a provider's answer kept in a message's
    history, which must be kept whatever it holds."""
    text = _payload_text(value)
    if text is not None:
        return text
    return _encode(_kept(value, 0))


def _kept(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return storable(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        # Python writes no integer of more digits as text either.
        return value if abs(value) < _INT_LIMIT else f"(an integer of over {MAX_INT_DIGITS} digits)"
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if depth >= MAX_DEPTH:
        return f"(nested more than {MAX_DEPTH} levels deep)"
    if isinstance(value, dict):
        return {storable(str(key)): _kept(child, depth + 1) for key, child in value.items()}
    if isinstance(value, list | tuple):
        return [_kept(child, depth + 1) for child in value]
    return storable(str(value)[:MAX_SHORT_TEXT])


def _walk(value: Any) -> None:
    """Each value of a payload, without recursion; raises for the first that
    cannot be kept."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise WebhookRejected("a value holds a null character")
            if _unpaired(item):
                raise WebhookRejected("a value holds an unpaired surrogate (not Unicode text)")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if abs(item) >= _INT_LIMIT:
                raise WebhookRejected("a number is out of range")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise WebhookRejected("a number is not finite")
        elif isinstance(item, dict | list | tuple):
            if depth >= MAX_DEPTH:
                raise WebhookRejected(f"the payload is nested more than {MAX_DEPTH} levels deep")
            if isinstance(item, dict):
                for key, child in item.items():
                    if not isinstance(key, str) or "\x00" in key or _unpaired(key):
                        raise WebhookRejected(
                            "a key is not text, or holds a null character or an unpaired surrogate"
                        )
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        else:
            raise WebhookRejected(f"a value of type {type(item).__name__} cannot be kept")


def _texts_fit(texts) -> bool:
    """Whether each (value, limit) is text within its limit, none holding a
    null character (one test for the common case; the caller names what is
    wrong when it is not)."""
    for value, limit in texts:
        if type(value) is not str or len(value) > limit:
            return False
    joined = "".join(value for value, _ in texts)
    return "\x00" not in joined and not _unpaired(joined)


def _text(what: str, value: Any, limit: int) -> None:
    if not isinstance(value, str):
        raise WebhookRejected(f"the {what} is not text")
    if len(value) > limit:
        raise WebhookRejected(f"the {what} is longer than {limit:,} characters")
    if "\x00" in value:
        raise WebhookRejected(f"the {what} holds a null character")
    if _unpaired(value):
        raise WebhookRejected(f"the {what} holds an unpaired surrogate (not Unicode text)")


def _time(what: str, value: Any) -> None:
    if value is not None and not isinstance(value, dt.datetime):
        raise WebhookRejected(f"the {what} is not a time")


def _shown(value: str) -> str:
    return repr(value[:20] + "…" if len(value) > 20 else value)
