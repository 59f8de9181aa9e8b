"""Page parameters: a page_size from 1 to 1000 and a cursor the API gave out,
anything else a 400 naming the parameter."""

import base64

import pytest

from campaigns.models import Message

pytestmark = pytest.mark.django_db

LISTS = [
    "/api/v1/campaigns/",
    "/api/v1/messages/",
    "/api/v1/contacts/",
    "/api/v1/lists/",
    "/api/v1/suppressions/",
]


def refused(response, parameter):
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert list(body["errors"]) == [parameter]
    assert parameter in body["message"]
    return body["errors"][parameter][0]


@pytest.mark.parametrize("value", ["0", "-1", "abc", "5000", "1001", "1.5", "", "9" * 50])
@pytest.mark.parametrize("path", LISTS)
def test_a_page_size_outside_1_to_1000_is_a_400_naming_it(api, path, value):
    message = refused(api.get(path, {"page_size": value}), "page_size")
    assert "from 1 to 1000" in message


def test_a_list_members_page_size_is_checked_too(api, customers):
    refused(api.get(f"/api/v1/lists/{customers.pk}/contacts/?page_size=0"), "page_size")


@pytest.mark.parametrize("value", ["1", "3", "1000"])
def test_a_page_size_from_1_to_1000_is_the_page_size(api, sent, value):
    body = api.get("/api/v1/messages/", {"page_size": value}).json()
    assert len(body["results"]) == min(int(value), 4)
    assert (body["next"] is None) == (int(value) >= 4)


def test_a_bad_page_size_is_a_400_with_csv_too(api, sent):
    refused(api.get("/api/v1/messages/?format=csv&page_size=abc"), "page_size")
    # A good one is accepted, and the export is still the whole set.
    response = api.get("/api/v1/messages/?format=csv&page_size=1")
    assert b"".join(response.streaming_content).count(b"\r\n") == 1 + 4


def test_reports_are_not_paged_so_page_parameters_are_refused(api, sent):
    refused(api.get("/api/v1/reports/cost/?page_size=10"), "page_size")
    refused(api.get("/api/v1/reports/delivery/?cursor=abc"), "cursor")


def cursor(raw: str) -> str:
    return base64.b64encode(raw.encode()).decode()


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "%%%",
        "",
        "Ωé",
        cursor("p=abc"),
        cursor("p="),
        cursor("p=0"),
        cursor("p=-5"),
        cursor("p=99999999999999999999999"),
        cursor("o=-1"),
        cursor("r=x"),
        cursor("o=1&p=\x00"),
    ],
)
@pytest.mark.parametrize("path", LISTS)
def test_a_tampered_cursor_is_a_400_naming_it(api, sent, path, value):
    message = refused(api.get(path, {"cursor": value}), "cursor")
    assert "not one this API gave out" in message


def test_a_tampered_cursor_is_a_400_with_csv_too(api, sent):
    refused(api.get("/api/v1/messages/", {"cursor": cursor("p=abc"), "format": "csv"}), "cursor")


def test_the_cursors_given_out_walk_both_ways(api, sent):
    first = api.get("/api/v1/messages/?page_size=3").json()
    second = api.get(first["next"]).json()
    ids = sorted(Message.objects.values_list("id", flat=True), reverse=True)
    assert [r["id"] for r in first["results"] + second["results"]] == ids
    back = api.get(second["previous"]).json()
    assert [r["id"] for r in back["results"]] == ids[:3]
