"""Schemathesis against /api/schema/: every operation, with generated
parameters, answers without a server error and as its schema says."""

import datetime as dt

import jsonschema
import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from hypothesis import HealthCheck, assume, given, settings
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from campaigns import links
from campaigns.models import Message
from contacts.models import Contact, Suppression
from smsportal import tokens
from smsportal.api.pagination import IdCursorPagination
from smsportal.wsgi import application

pytestmark = pytest.mark.django_db

EXAMPLES = 20


@pytest.fixture
def site_in_this_transaction():
    """The site's real WSGI application, kept from closing the test's
    database connection between requests (as Django's test client does), so
    it sees this test's data."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield application
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(sent, admin_user, site_in_this_transaction):
    # A token that may record conversions, so the one write is tried in
    # earnest (an unknown code is a 404, a bad value a 400).
    raw = tokens.token_create(user=admin_user, name="Schemathesis", can_record_conversions=True)[1]
    auth = {"Authorization": f"Bearer {raw}"}
    # The schema the site serves, fetched through the site itself.
    schema = schemathesis.openapi.from_wsgi(
        "/api/schema/?format=json", site_in_this_transaction, headers=auth
    )
    return schema, auth


def _moment(text):
    try:
        value = parse_datetime(text) or parse_date(text)
    except (ValueError, OverflowError):
        return None
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = timezone.make_aware(value, dt.UTC)
    elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
    return value


def breaks_a_documented_rule(query: dict) -> bool:
    """Rules that OpenAPI cannot express (and the descriptions state): a
    range ends after it starts, a report covers at most a year, and a cursor
    is one the API gave out. Schemathesis cannot know them, so such cases are
    not "valid data" it may expect a 2xx for."""
    query = {k: v for k, v in (query or {}).items() if isinstance(v, str)}
    if "cursor" in query and not given_out(query["cursor"]):
        return True
    # The site refuses a null character anywhere in an address (a 400 in
    # JSON, as the API description says).
    if any("\x00" in k or "\x00" in v for k, v in query.items()):
        return True
    for name, start in query.items():
        if name.endswith("_after") or name == "since":
            end = query.get("until" if name == "since" else name.removesuffix("_after") + "_before")
            a, b = _moment(start), _moment(end) if end else None
            if a and b and a >= b:
                return True
    if "date_from" in query or "date_to" in query:
        today = timezone.now().astimezone(dt.UTC).date()
        end = parse_date(query["date_to"]) if "date_to" in query else today
        start = parse_date(query["date_from"]) if "date_from" in query else None
        if end and start and (start > end or (end - start).days >= 366):
            return True
    return False


def given_out(cursor: str) -> bool:
    request = Request(APIRequestFactory().get("/", {"cursor": cursor}))
    try:
        IdCursorPagination().decode_cursor(request)
    except ValidationError:
        return False
    return True


def operations(schema):
    return [result.ok() for result in schema.get_all_operations()]


def test_every_operation_keeps_to_the_schema(api_schema):
    # Driven from inside the test (rather than schemathesis' pytest plugin) so
    # the data and the token exist in this test's database.
    schema, auth = api_schema
    checked = []
    for operation in operations(schema):

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case):
            assume(not breaks_a_documented_rule(case.query))
            case.call_and_validate(headers=auth)

        check()
        checked.append(f"{operation.method.upper()} {operation.path}")
    assert "GET /api/v1/messages/" in checked
    assert "GET /api/v1/reports/cost/" in checked
    assert "GET /api/v1/clicks/" in checked
    assert "POST /api/v1/conversions/" in checked
    assert len(checked) == 16


def test_the_schema_is_served_as_openapi_3(api):
    schema = api.get("/api/schema/?format=json").json()
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["apiToken"]["scheme"] == "bearer"
    assert APIClient().get("/api/schema/").status_code == 401


# -- the schema's own definitions against what the API answers --------------------------


def json_schema(node, components):
    """An OpenAPI 3.0 schema as plain JSON Schema, $refs resolved, and strict
    as a generated client is: null only where `nullable` says, and no
    property the schema does not name."""
    if isinstance(node, list):
        return [json_schema(n, components) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return json_schema(components[node["$ref"].rsplit("/", 1)[-1]], components)
    out = {k: json_schema(v, components) for k, v in node.items() if k != "nullable"}
    if node.get("type") == "object" and "properties" in node:
        out.setdefault("additionalProperties", False)
    if node.get("nullable") is True:
        out = {"anyOf": [out, {"type": "null"}]}
    return out


FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value):
    return not isinstance(value, str) or bool(dt.datetime.fromisoformat(value).tzinfo)


@FORMATS.checks("date", raises=ValueError)
def _is_date(value):
    return not isinstance(value, str) or bool(dt.date.fromisoformat(value))


def validator(schema, path, status="200", method="get"):
    answer = schema["paths"][path][method]["responses"][status]
    body = answer["content"]["application/json"]["schema"]
    return jsonschema.Draft202012Validator(
        json_schema(body, schema["components"]["schemas"]), format_checker=FORMATS
    )


def test_every_json_answer_is_what_the_schema_defines(api, sent, customers):
    Suppression.objects.create(phone="+4915112345601", reason="stop", note="Asked by mail")
    delivered = Message.objects.filter(status="delivered").first()
    click = links.record_click(campaign_id=sent.pk, message_id=delivered.pk, agent="mobile")
    schema = api.get("/api/schema/?format=json").json()
    ids = {
        "campaigns": sent.pk,
        "messages": delivered.pk,
        "contacts": Contact.objects.first().pk,
        "lists": customers.pk,
        "suppressions": Suppression.objects.get().pk,
        "clicks": click.pk,
    }
    checked = []
    for path in schema["paths"]:
        if "get" not in schema["paths"][path]:
            continue  # the one write: tests/api/test_conversions.py
        url = path.format(id=ids.get(path.split("/")[3]))
        if "/reports/" in path:
            url += "?group_by=day&group_by=account&group_by=campaign&group_by=country"
        response = api.get(url)
        assert response.status_code == 200, (url, response.content)
        body = response.json()
        # Something to check: not only an empty page.
        assert body.get("results", [body]), url
        errors = [e.message for e in validator(schema, path).iter_errors(body)]
        assert errors == [], (url, errors)
        checked.append(path)
    assert len(checked) == 15


def test_the_check_itself_refuses_what_a_generated_client_would(api, sent):
    schema = api.get("/api/schema/?format=json").json()
    check = validator(schema, "/api/v1/messages/")
    page = api.get("/api/v1/messages/?page_size=1").json()
    assert list(check.iter_errors(page)) == []
    row = page["results"][0]
    for broken in (
        {**row, "extra": 1},
        {**row, "phone": None},
        {**row, "created_at": "yesterday"},
        {**row, "estimated_cost": 0.075},
        {k: v for k, v in row.items() if k != "id"},
    ):
        assert list(check.iter_errors({**page, "results": [broken]})), broken
    assert list(check.iter_errors({"results": []}))  # next and previous are always there


@pytest.mark.parametrize(
    ("path", "url", "status"),
    [
        ("/api/v1/messages/", "/api/v1/messages/?page_size=0", "400"),
        ("/api/v1/messages/", "/api/v1/messages/?cursor=garbage", "400"),
        ("/api/v1/reports/cost/", "/api/v1/reports/cost/?group_by=week", "400"),
        ("/api/v1/campaigns/{id}/", "/api/v1/campaigns/999999/", "404"),
        ("/api/v1/campaigns/{id}/", "/api/v1/campaigns/1/?format=csv", "406"),
    ],
)
def test_error_answers_are_what_the_schema_defines(api, path, url, status):
    schema = api.get("/api/schema/?format=json").json()
    response = api.get(url)
    assert str(response.status_code) == status
    assert list(validator(schema, path, status).iter_errors(response.json())) == []


def test_every_list_documents_its_page_parameters_and_csv(api):
    schema = api.get("/api/schema/?format=json").json()
    lists = [
        p
        for p in schema["paths"]
        if "get" in schema["paths"][p] and p.endswith("/") and not p.endswith("{id}/")
    ]
    assert len(lists) == 9
    for path in lists:
        operation = schema["paths"][path]["get"]
        parameters = {p["name"]: p["schema"] for p in operation["parameters"]}
        assert parameters["format"]["enum"] == ["csv", "json"], path
        assert parameters["escape"]["enum"] == ["formulas", "none"], path
        assert parameters["escape"]["default"] == "formulas", path
        assert "text/csv" in operation["responses"]["200"]["content"], path
        if "/reports/" in path:
            assert "page_size" not in parameters and "cursor" not in parameters
        else:
            assert parameters["page_size"] == {
                "type": "integer",
                "minimum": 1,
                "maximum": 1000,
                "default": 100,
            }
            assert parameters["cursor"]["type"] == "string"
    # One object at a time is JSON only.
    for path in schema["paths"]:
        if path.endswith("{id}/"):
            assert list(schema["paths"][path]["get"]["responses"]["200"]["content"]) == [
                "application/json"
            ]
