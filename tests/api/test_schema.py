"""Schemathesis against /api/schema/: every operation, with generated
parameters, answers without a server error and as its schema says."""

import datetime as dt

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from hypothesis import HealthCheck, assume, given, settings
from rest_framework.test import APIClient

from smsportal import tokens
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
def api_schema(sent, analyst, site_in_this_transaction):
    raw = tokens.token_create(user=analyst, name="Schemathesis")[1]
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
    """Rules between parameters that OpenAPI cannot express (and the
    descriptions state): a range ends after it starts, and a report covers
    at most a year. Schemathesis cannot know them, so such cases are not
    "valid data" it may expect a 2xx for."""
    query = {k: v for k, v in (query or {}).items() if isinstance(v, str)}
    # The site refuses a null character anywhere in an address (a 400 in
    # JSON, as the API description says).
    if any("\x00" in k or "\x00" in v for k, v in query.items()):
        return True
    for name, start in query.items():
        if name.endswith("_after"):
            end = query.get(name.removesuffix("_after") + "_before")
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
    assert len(checked) == 13


def test_the_schema_is_served_as_openapi_3(api):
    schema = api.get("/api/schema/?format=json").json()
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["apiToken"]["scheme"] == "bearer"
    assert APIClient().get("/api/schema/").status_code == 401
