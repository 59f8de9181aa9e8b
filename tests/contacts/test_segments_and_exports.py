"""Segment conditions against real rows, and what exports write."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Message
from contacts import exports, segments
from contacts.models import Contact, ContactList, ListMembership, Segment, Suppression

pytestmark = pytest.mark.django_db


def picked(*conditions, match="all"):
    segment = Segment(
        name="s", match=match, conditions=[segments.clean_condition(c) for c in conditions]
    )
    return set(segments.contacts(segment).values_list("phone", flat=True))


def test_campaign_history_conditions_pick_who_was_and_was_not_sent_to(draft, customers, sandbox):
    anna = Contact.objects.get(phone="+4915112345601")
    Message.objects.create(
        campaign=draft, contact=anna, phone=anna.phone, account=sandbox, status="delivered",
        submitted_at=timezone.now(),
    )  # fmt: skip
    ben = Contact.objects.get(phone="+4915112345602")
    Message.objects.create(
        campaign=draft, contact=ben, phone=ben.phone, account=sandbox, status="skipped",
        skip_reason="suppressed",
    )  # fmt: skip
    assert picked({"field": "campaign", "op": "received", "value": "Spring sale"}) == {anna.phone}
    others = picked({"field": "campaign", "op": "not_received", "value": str(draft.pk)})
    assert anna.phone not in others and ben.phone in others


def test_country_attribute_date_and_list_conditions(customers):
    old = Contact.objects.get(phone="+4915112345601")
    Contact.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=30), attributes={"tier": "gold"}
    )
    vip = ContactList.objects.create(name="VIP")
    ListMembership.objects.create(contact_list=vip, contact=old)
    assert picked({"field": "country", "op": "in", "value": "fr"}) == {"+33612349999"}
    assert picked({"field": "attribute", "op": "equals", "key": "tier", "value": "gold"}) == {
        old.phone
    }
    assert old.phone not in picked(
        {"field": "attribute", "op": "not_equals", "key": "tier", "value": "gold"}
    )
    assert len(picked({"field": "attribute", "op": "is_not_set", "key": "tier"})) == 3
    day = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%d")
    assert picked({"field": "created", "op": "before", "value": day}) == {old.phone}
    germans_not_vip = picked(
        {"field": "list", "op": "not_in", "value": "VIP"},
        {"field": "country", "op": "in", "value": "DE"},
    )
    assert germans_not_vip == {"+4915112345602", "+4915112340000"}
    either = picked(
        {"field": "list", "op": "in", "value": "VIP"},
        {"field": "country", "op": "in", "value": "FR"},
        match="any",
    )
    assert either == {old.phone, "+33612349999"}


@pytest.mark.parametrize(
    "condition, message",
    [
        ({"field": "country", "op": "in", "value": "Germany"}, "two-letter codes"),
        ({"field": "attribute", "op": "equals", "key": "", "value": "x"}, "Name the attribute"),
        ({"field": "campaign", "op": "received", "value": "nope"}, "no campaign called"),
        ({"field": "country", "op": "before", "value": "DE"}, "does not apply"),
    ],
)
def test_a_bad_condition_says_what_is_wrong(db, condition, message):
    with pytest.raises(segments.ValidationError, match=message):
        segments.clean_condition(condition)


def test_exported_cells_never_run_as_formulas_but_numbers_stay_numbers():
    assert exports.safe_cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert exports.safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert exports.safe_cell("+1+cmd|' /C calc'!A0") == "'+1+cmd|' /C calc'!A0"
    assert exports.safe_cell("-2+3") == "'-2+3"
    assert exports.safe_cell("+4915112345601") == "+4915112345601"
    assert exports.safe_cell("-3.5") == "-3.5"
    assert exports.safe_cell("Anna") == "Anna"


def test_a_suppression_export_streams_every_row(db):
    Suppression.objects.bulk_create(
        Suppression(phone=f"+49151{20000000 + i}", note="=cmd" if i == 0 else "")
        for i in range(5000)
    )
    response = exports.csv_response(exports.suppression_rows(), "suppressions")
    assert response.streaming
    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert len(lines) == 5001
    assert lines[1].startswith("+4915120000000,manual,'=cmd,")
