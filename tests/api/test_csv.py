"""CSV exports: streamed, complete, in the documented column order, and
safe to open in a spreadsheet."""

import csv
import io
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, CampaignCounter
from contacts import services as contact_services
from contacts.models import Contact, ContactList, Suppression
from providers.status import Status
from smsportal.api import csv_export, reports, serializers

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
        [str(customers.pk), "Customers", "", "4", rows[1][4]],
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


def csv_rows(response):
    """The rows of a CSV answer as dicts, as a CSV reader in any tool sees them."""
    rows, _ = read(response)
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]], rows[0]


def json_rows(api, url):
    """Every row of a list, following the cursor pages."""
    results = []
    while url:
        body = api.get(url).json()
        results += body["results"]
        url = body["next"]
    return results


def flat(row: dict) -> dict:
    """A JSON row as its CSV cells: a nested object one column per key, lists
    as JSON, null empty, everything else as text (escape=none)."""
    cells = {}
    for key, value in row.items():
        if isinstance(value, dict):
            cells.update({f"{key}_{k}": str(v) for k, v in value.items()})
        elif isinstance(value, list):
            cells[key] = json.dumps(value)
        elif value is None:
            cells[key] = ""
        elif isinstance(value, bool):
            cells[key] = str(value).lower()
        else:
            cells[key] = str(value)
    return cells


@pytest.fixture
def everything(sent):
    Suppression.objects.create(phone="+4915112345601", reason="stop", note="=cmd")
    return sent


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/campaigns/",
        "/api/v1/messages/",
        "/api/v1/contacts/",
        "/api/v1/lists/",
        "/api/v1/lists/{id}/contacts/",
        "/api/v1/suppressions/",
    ],
)
def test_every_list_offers_csv_with_the_rows_of_its_json(api, everything, path):
    url = path.format(id=ContactList.objects.get().pk)
    pages = json_rows(api, f"{url}?page_size=2")
    rows, header = csv_rows(api.get(f"{url}?format=csv&escape=none"))
    assert len(rows) == len(pages) > 0
    assert [r["id"] for r in rows] == [str(p["id"]) for p in pages]
    # The columns the schema documents, in its order.
    schema = api.get(reverse("api:schema") + "?format=json").json()
    description = schema["paths"][path]["get"]["description"]
    positions = [description.index(f"`{h}`:") for h in header]
    assert positions == sorted(positions)


def test_campaigns_export_as_csv_with_the_figures_of_their_json(api, sent):
    [row] = json_rows(api, "/api/v1/campaigns/")
    rows, header = csv_rows(api.get("/api/v1/campaigns/?format=csv&escape=none"))
    assert header == [c.header for c in serializers.CAMPAIGN_COLUMNS]
    assert rows == [flat(row)]
    assert rows[0]["counts_delivered"] == "2" and rows[0]["estimated_cost"] == "0.29300"
    assert rows[0]["lists"] == f"[{sent.lists.get().pk}]"


def test_the_campaign_export_reads_its_counters_a_chunk_at_a_time(api, sent, monkeypatch):
    monkeypatch.setattr(csv_export, "CHUNK_ROWS", 2)
    for n in range(4):
        Campaign.objects.create(
            name=f"Copy {n}", text="x", sender=sent.sender, account=sent.account
        )
    response = api.get("/api/v1/campaigns/?format=csv")
    with CaptureQueriesContext(connection) as captured:
        rows, chunks = read(response)
    assert [r[1] for r in rows[1:]] == ["Copy 3", "Copy 2", "Copy 1", "Copy 0", "Spring sale"]
    assert len(chunks) == 1 + 3
    counter_reads = [q for q in captured if "campaigncounter" in q["sql"]]
    assert len(counter_reads) == 3


@pytest.mark.parametrize("report", ["cost", "delivery"])
def test_reports_offer_csv_with_their_rows_as_columns(api, sent, report):
    url = f"/api/v1/reports/{report}/?group_by=day&group_by=country&group_by=campaign"
    body = api.get(url).json()
    response = api.get(f"{url}&format=csv&escape=none")
    rows, header = csv_rows(response)
    assert rows == [flat(r) for r in body["results"]] and len(rows) == 2
    columns = {"cost": reports.COST_COLUMNS, "delivery": reports.DELIVERY_COLUMNS}[report]
    assert header == [c.header for c in columns]
    expected = f'filename="{report}-report-{body["date_from"]}-{body["date_to"]}.csv"'
    assert expected in response["Content-Disposition"]
    # Accept: text/csv chooses it too.
    assert read(api.get(url, HTTP_ACCEPT="text/csv"))[0][0] == header


def test_the_delivery_report_spreads_its_counts_over_columns(api, sent):
    rows, header = csv_rows(api.get("/api/v1/reports/delivery/?group_by=country&format=csv"))
    assert [h for h in header if h.startswith("counts_")] == [f"counts_{s}" for s in Status]
    by_country = {r["country"]: r for r in rows}
    assert by_country["DE"]["counts_delivered"] == "2"
    assert by_country["DE"]["delivery_rate"] == str(round(2 / 3, 4))
    assert by_country["FR"]["counts_rejected"] == "1"


def test_report_csv_figures_are_the_sums_of_the_message_export(api, sent):
    messages, _ = csv_rows(api.get("/api/v1/messages/?format=csv&escape=none"))
    report, _ = csv_rows(api.get("/api/v1/reports/cost/?group_by=country&format=csv"))
    for row in report:
        mine = [m for m in messages if m["country"] == row["country"]]
        assert int(row["messages"]) == len(mine)
        assert int(row["segments"]) == sum(int(m["segments"]) for m in mine)
        assert Decimal(row["estimated_cost"]) == sum(Decimal(m["estimated_cost"]) for m in mine)
        assert Decimal(row["actual_cost"]) == sum(Decimal(m["actual_cost"]) for m in mine)


def test_a_bad_report_parameter_with_csv_is_a_json_400(api):
    response = api.get("/api/v1/reports/cost/?format=csv&group_by=week")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert list(response.json()["errors"]) == ["group_by"]


def test_escape_none_writes_cells_as_stored_for_joins(api, customers):
    contact_services.list_add_contacts(
        contact_list=customers,
        rows=[{"phone": "+4915112345671", "first_name": '=HYPERLINK("http://x","y")'}],
    )
    url = f"/api/v1/lists/{customers.pk}/contacts/?format=csv"
    raw, _ = csv_rows(api.get(f"{url}&escape=none"))
    assert {r["phone"] for r in raw} == {
        c["phone"] for c in json_rows(api, f"/api/v1/lists/{customers.pk}/contacts/")
    }
    assert "+4915112345671" in {r["phone"] for r in raw}
    assert '=HYPERLINK("http://x","y")' in {r["first_name"] for r in raw}
    # Spreadsheet-safe is the default, and can be asked for by name.
    default, _ = csv_rows(api.get(url))
    assert default == csv_rows(api.get(f"{url}&escape=formulas"))[0]
    assert "'+4915112345671" in {r["phone"] for r in default}
    assert '\'=HYPERLINK("http://x","y")' in {r["first_name"] for r in default}


def test_escape_none_applies_to_campaigns_and_reports_too(api, sent):
    sent.name = "=Spring"
    sent.save(update_fields=["name"])
    campaigns, _ = csv_rows(api.get("/api/v1/campaigns/?format=csv"))
    assert campaigns[0]["name"] == "'=Spring"
    campaigns, _ = csv_rows(api.get("/api/v1/campaigns/?format=csv&escape=none"))
    assert campaigns[0]["name"] == "=Spring"
    report = "/api/v1/reports/cost/?group_by=campaign&format=csv"
    assert csv_rows(api.get(report))[0][0]["campaign_name"] == "'=Spring"
    assert csv_rows(api.get(f"{report}&escape=none"))[0][0]["campaign_name"] == "=Spring"


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/messages/?format=csv&escape=off",
        "/api/v1/messages/?escape=",
        "/api/v1/campaigns/?format=csv&escape=NONE",
        "/api/v1/reports/delivery/?format=csv&escape=raw",
        "/api/v1/reports/cost/?escape=raw",
    ],
)
def test_a_bad_escape_is_a_400_naming_it(api, url):
    response = api.get(url)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["errors"] == {"escape": ["Give formulas (the default) or none."]}


def test_a_negative_number_is_a_number_not_a_formula(api, sent):
    assert csv_export.escape("-12") == "-12"
    assert csv_export.escape("-0.50000") == "-0.50000"
    assert csv_export.escape("-2+3") == "'-2+3"
    assert csv_export.escape("-1e5") == "'-1e5"
    assert csv_export.cell("=1", formulas=False) == "=1"
    # A counter's net change below zero reaches the report as a number.
    CampaignCounter.objects.create(
        campaign=sent, account=sent.account, day=timezone.now().date(), status="pending", count=-1
    )
    rows, _ = csv_rows(api.get("/api/v1/reports/delivery/?format=csv"))
    assert rows[0]["counts_pending"] == "-1"
