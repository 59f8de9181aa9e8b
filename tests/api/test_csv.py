"""CSV exports: streamed, complete, in the documented column order, and
safe to open in a spreadsheet."""

import csv
import io

import pytest
from django.urls import reverse

from contacts import services as contact_services
from contacts.models import Contact
from smsportal.api import csv_export, serializers

pytestmark = pytest.mark.django_db


def read(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.streaming
    chunks = list(response.streaming_content)
    return list(csv.reader(io.StringIO(b"".join(chunks).decode()))), chunks


def test_messages_csv_has_the_documented_columns_in_order(api, sent):
    rows, _ = read(api.get("/api/v1/messages/?format=csv"))
    assert rows[0] == [c.header for c in serializers.MESSAGE_COLUMNS]
    assert len(rows) == 1 + 4
    schema = api.get(reverse("api:schema") + "?format=json").json()
    description = schema["paths"]["/api/v1/messages/"]["get"]["description"]
    positions = [description.index(f"`{c.header}`:") for c in serializers.MESSAGE_COLUMNS]
    assert positions == sorted(positions)


def test_csv_follows_the_same_filters(api, sent):
    rows, _ = read(api.get("/api/v1/messages/?format=csv&status=delivered"))
    status = rows[0].index("status")
    assert [r[status] for r in rows[1:]] == ["delivered", "delivered"]


def test_csv_is_chosen_by_accept_header_too(api, sent):
    rows, _ = read(api.get("/api/v1/suppressions/", HTTP_ACCEPT="text/csv"))
    assert rows == [[c.header for c in serializers.SUPPRESSION_COLUMNS]]


def test_csv_escapes_cells_a_spreadsheet_would_run_as_formulas(api, customers):
    contact_list = contact_services.list_create(name="Risky")
    contact_services.list_add_contacts(
        contact_list=contact_list,
        rows=[
            {"phone": "+4915112345671", "first_name": '=HYPERLINK("http://x","y")'},
            {"phone": "+4915112345672", "first_name": "@SUM(A1)"},
            {"phone": "+4915112345673", "first_name": "-2+3", "last_name": "+cmd"},
            {"phone": "+4915112345674", "first_name": "Ann=Lee"},
        ],
    )
    rows, _ = read(api.get(f"/api/v1/lists/{contact_list.pk}/contacts/?format=csv"))
    by_phone = {r[1]: r for r in rows[1:]}
    assert by_phone["'+4915112345671"][2] == '\'=HYPERLINK("http://x","y")'
    assert by_phone["'+4915112345672"][2] == "'@SUM(A1)"
    assert by_phone["'+4915112345673"][2:4] == ["'-2+3", "'+cmd"]
    assert by_phone["'+4915112345674"][2] == "Ann=Lee"


def test_a_large_export_is_streamed_in_chunks_and_complete(api, customers):
    Contact.objects.bulk_create(
        Contact(phone=f"+49151{n:08d}", first_name=f"N{n}", country="DE") for n in range(5000)
    )
    rows, chunks = read(api.get("/api/v1/contacts/?format=csv&country=DE"))
    assert len(rows) == 1 + 5000 + 3
    # Header, then one chunk per CHUNK_ROWS rows: never the whole file at once.
    assert len(chunks) == 1 + -(-(5000 + 3) // csv_export.CHUNK_ROWS)
    ids = [int(r[0]) for r in rows[1:]]
    assert ids == sorted(ids, reverse=True)


def test_lists_export_as_csv(api, customers):
    rows, _ = read(api.get("/api/v1/lists/?format=csv"))
    assert rows == [
        [c.header for c in serializers.LIST_COLUMNS],
        [str(customers.pk), "Customers", "", rows[1][3]],
    ]


def test_a_bad_filter_on_a_csv_export_is_still_a_json_error(api):
    response = api.get("/api/v1/messages/?format=csv&status=nope")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "status" in response.json()["errors"]


def test_escape_leaves_ordinary_text_alone():
    assert csv_export.escape("Hello") == "Hello"
    assert csv_export.escape("\t=1") == "'\t=1"
    assert csv_export.cell(None) == ""
    assert csv_export.cell({"b": 1, "a": "=x"}) == '{"a": "=x", "b": 1}'
