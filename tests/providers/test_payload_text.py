"""A payload's JSON text, as the screening writes it to be kept: the same
values as the json module would write, or refused where it refuses (the
fast writer stands aside wherever the two could differ)."""

import datetime as dt
import json
from decimal import Decimal

import pytest

from providers import screening
from providers.base import WebhookRejected

KEPT = [
    {"messageId": "abc", "price": {"pricePerMessage": 0.01, "currency": "EUR"}, "smsCount": 1},
    {"a": None, "b": [True, False, None], "c": -0.0, "d": 1e16, "e": 1e-7, "f": 2.5},
    {"big": 2**70, "small": -(2**63), "u64": 2**64 - 1},
    {"text": 'Grüße 😀 \u2028 "quoted" \\ back', "tab": "a\tb\nc"},
    {"literal": "the six characters \\u0000"},
    {"nested": [[[[{"x": [1, 2, 3]}]]]]},
    {1: "a key that is a number", None: "and null"},
    ["a", ("tuple", 1)],
    "just text",
    12,
]
REFUSED = [
    {"nan": float("nan")},
    {"inf": [1, float("inf")]},
    {"null character": "a\x00b"},
    {"a\x00": 1},
    {"surrogate": "a\ud800"},
    {"\udc00": 1},
    {"decimal": Decimal("1.5")},
    {"time": dt.datetime(2026, 1, 1)},
    {"bytes": b"x"},
    {"set": {1, 2}},
]


@pytest.mark.parametrize("value", KEPT)
def test_what_can_be_kept_reads_back_as_the_json_module_writes_it(value):
    text = screening._payload_text(value)
    assert text is not None
    assert "\n" not in text  # one line each in a stored callback
    assert json.loads(text) == json.loads(json.dumps(value, ensure_ascii=False))


@pytest.mark.parametrize("value", REFUSED, ids=repr)
def test_what_cannot_be_kept_is_refused(value):
    assert screening._payload_text(value) is None
    with pytest.raises(WebhookRejected):
        screening.check_payload(value)


def test_a_providers_words_are_kept_with_what_the_database_refuses_escaped():
    assert screening.storable("plain") == "plain"
    assert screening.storable("Grüße 😀") == "Grüße 😀"
    assert screening.storable("a\x00b\ud800c\udfffd") == "a\\x00b\\ud800c\\udfffd"


def test_an_answer_is_kept_whatever_it_holds():
    answer = {
        "ok": "fine",
        "nul": "a\x00b",
        "\udc00key": [1, float("nan"), float("-inf"), b"raw", Decimal("1.5")],
        "big": 2**70,
    }
    kept = json.loads(screening.keepable_json(answer))
    assert kept == {
        "ok": "fine",
        "nul": "a\\x00b",
        "\\udc00key": [1, "nan", "-inf", "b'raw'", "1.5"],
        "big": 2**70,
    }
    assert screening._payload_text(kept) is not None  # nothing left to refuse
    # What can be kept as it is, is.
    sound = {"status": "Success", "tracking-id": "abc", "price": 0.01}
    assert json.loads(screening.keepable_json(sound)) == sound


def test_an_answer_too_deep_or_too_long_to_write_is_kept_with_a_note():
    deep: dict = {"x": "a\x00b"}
    for _ in range(40):
        deep = {"x": deep}
    kept = json.loads(screening.keepable_json({"deep": deep, "huge": 10**5000}))
    assert kept["huge"] == "(an integer of over 4300 digits)"
    for _ in range(31):
        kept = kept.get("deep", kept.get("x"))
    assert kept == {"x": "(nested more than 32 levels deep)"}
