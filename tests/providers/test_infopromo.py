import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
import requests
import responses
from responses import matchers

from providers.backends.infopromo import InfopromoHttpBackend, InfopromoV3Backend
from providers.base import DltFields, OutboundSms, ProviderError, SendOptions
from providers.registry import backend_class
from providers.status import Status
from tests.providers.fakes import serve
from tests.providers.fakes.infopromo import make_handler

FIXTURES = Path(__file__).parent / "fixtures" / "infopromo"
BASE = "https://sms.infopromo.digital/"
TOKEN = "7|pL0bQ2secret"
V3 = BASE + "api/v3/"
HTTP = BASE + "api/http/"

V3_HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "Content-Type": "application/json",
    "Accept": "application/json",
}
HTTP_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


def sms(to, ref="1", text="This is a test message", sender="YourName", encoding="GSM-7"):
    return OutboundSms(ref=ref, to=to, text=text, sender=sender, encoding=encoding)


def v3(**options):
    return InfopromoV3Backend(credentials={"api_token": TOKEN}, options=options)


def http(**options):
    return InfopromoHttpBackend(credentials={"api_token": TOKEN}, options=options)


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


# -- declarations ---------------------------------------------------------------


def test_it_is_registered_under_both_kinds():
    assert backend_class("infopromo_v3") is InfopromoV3Backend
    assert backend_class("infopromo_http") is InfopromoHttpBackend


def test_it_declares_what_infopromo_can_do():
    caps = InfopromoV3Backend.capabilities
    assert caps.max_recipients_per_request == 100
    assert not caps.distinct_texts_per_request
    assert caps.native_scheduling and caps.dlt and caps.polling
    assert not caps.cancel and not caps.push_reports
    assert (caps.max_alphanumeric_sender, caps.max_numeric_sender) == (11, 15)
    assert caps.provider_side_lists
    assert not InfopromoHttpBackend.capabilities.provider_side_lists
    assert InfopromoV3Backend.default_base_url == BASE
    assert [f.name for f in InfopromoV3Backend.credential_fields] == ["api_token"]
    assert all(f.label for f in InfopromoHttpBackend.option_fields)
    assert "http_method" in {f.name for f in InfopromoHttpBackend.option_fields}
    assert "http_method" not in {f.name for f in InfopromoV3Backend.option_fields}


def test_it_takes_the_batch_size_from_the_account():
    assert v3(max_recipients="250").capabilities.max_recipients_per_request == 250
    assert v3(max_recipients="nonsense").capabilities.max_recipients_per_request == 100
    assert InfopromoV3Backend.capabilities.max_recipients_per_request == 100


@pytest.mark.parametrize(
    ("sender", "ok"),
    [
        # The seed's own example, and "a telephone number (including country code)".
        ("YourName", True),
        ("Shop24", True),
        ("+31612345678", True),
        ("31612345678", True),
        ("880172145789", False),
        ("TwelveLetter", False),
        ("1234567890123456", False),
        # A short code is not a number with a country code.
        ("12345", False),
        # "an alphanumeric string": letters and digits only.
        ("Shop-24", False),
        ("Shop_24", False),
        ("Shop.de", False),
        ("Shop-Now", False),
        ("Shop 24", False),
    ],
)
def test_it_applies_the_documented_sender_rules(sender, ok):
    assert (v3().sender_errors(sender) == []) is ok
    assert (http().sender_errors(sender) == []) is ok


# -- sending (API v3) -------------------------------------------------------------


def test_it_sends_the_documented_single_number_example(mocked):
    mocked.post(
        V3 + "sms/send",
        json=fixture("send_single.json"),
        match=[
            matchers.header_matcher(V3_HEADERS),
            matchers.json_params_matcher(
                {
                    "recipient": "31612345678",
                    "sender_id": "YourName",
                    "type": "plain",
                    "message": "This is a test message",
                }
            ),
        ],
    )

    [result] = v3().send_batch([sms("+31612345678", ref="41")], SendOptions())

    assert result.ref == "41"
    # "Delivered" in the submit answer only means the gateway took it.
    assert result.status == Status.ACCEPTED
    assert result.provider_message_id == "606812e63f78b"
    assert result.cost == Decimal("1")
    assert result.segments == 1


def test_it_sends_to_many_recipients_in_one_request(mocked):
    mocked.post(
        V3 + "sms/send",
        json=fixture("send_multiple.json"),
        match=[
            matchers.header_matcher(V3_HEADERS),
            matchers.json_params_matcher(
                {
                    "recipient": "31612345678,880172145789",
                    "sender_id": "YourName",
                    "type": "plain",
                    "message": "This is a test message",
                }
            ),
        ],
    )

    results = v3().send_batch(
        [sms("+31612345678", ref="1"), sms("+880172145789", ref="2")], SendOptions()
    )

    by_ref = {r.ref: r for r in results}
    # The answer lists the numbers in another order: matched by number.
    assert by_ref["1"].provider_message_id == "6415907d0d7a6"
    assert by_ref["2"].provider_message_id == "6415907d0d7b2"
    assert by_ref["1"].cost == Decimal("1")
    assert by_ref["2"].cost == Decimal("1.5")
    assert {r.status for r in results} == {Status.ACCEPTED}
    assert len(mocked.calls) == 1


def test_it_sends_the_documented_scheduled_multiple_numbers_example(mocked):
    mocked.post(
        V3 + "sms/send",
        json=fixture("send_scheduled.json"),
        match=[
            matchers.json_params_matcher(
                {
                    "recipient": "31612345678,880172145789",
                    "sender_id": "YourName",
                    "type": "plain",
                    "message": "This is a test message",
                    "schedule_time": "2021-12-20 07:00",
                }
            )
        ],
    )
    send_at = dt.datetime(2021, 12, 20, 7, 0, 30, tzinfo=dt.UTC)

    results = v3().send_batch(
        [sms("+31612345678", ref="1"), sms("+880172145789", ref="2")],
        SendOptions(send_at=send_at),
    )

    # No data for a scheduled bulk send: taken, but without uids nothing can
    # read their status later, and each says so.
    assert [(r.ref, r.status, r.provider_message_id) for r in results] == [
        ("1", Status.ACCEPTED, ""),
        ("2", Status.ACCEPTED, ""),
    ]
    assert {r.error_description for r in results} == {
        "Infopromo took this message but returned no uid for it, so its status cannot be "
        "read back; check it in the Infopromo portal."
    }


def test_a_scheduled_send_goes_one_number_per_request():
    caps = v3().capabilities
    assert caps.recipients_per_request(scheduled=False) == 100
    assert caps.recipients_per_request(scheduled=True) == 1
    assert http(max_recipients="40").capabilities.recipients_per_request(scheduled=True) == 1


def test_a_scheduled_send_to_one_number_is_answered_with_its_uid(mocked):
    mocked.post(
        V3 + "sms/send",
        json=fixture("send_single.json"),
        match=[
            matchers.json_params_matcher(
                {"recipient": "31612345678", "schedule_time": "2021-12-20 07:00"},
                strict_match=False,
            )
        ],
    )

    [result] = v3().send_batch(
        [sms("+31612345678", ref="1")],
        SendOptions(send_at=dt.datetime(2021, 12, 20, 7, 0, tzinfo=dt.UTC)),
    )

    assert (result.status, result.provider_message_id, result.error_description) == (
        Status.ACCEPTED,
        "606812e63f78b",
        "",
    )


def test_a_listed_message_of_several_parts_costs_what_the_portal_says():
    # The portal's ``cost`` is the message's (sms_count 2, cost 2.5), not a
    # price per part: it is never multiplied by the parts.
    rows = fixture("list_sms_page2.json")["data"]["data"]
    report = v3().report_of(rows[1])
    assert (report.segments, report.cost) == (2, Decimal("2.5"))


def test_it_writes_schedule_time_in_the_portal_time_zone(mocked):
    mocked.post(
        V3 + "sms/send",
        json=fixture("send_single.json"),
        match=[
            matchers.json_params_matcher({"schedule_time": "2021-12-20 12:30"}, strict_match=False)
        ],
    )
    send_at = dt.datetime(2021, 12, 20, 7, 0, tzinfo=dt.UTC)

    v3(timezone="Asia/Kolkata").send_batch([sms("+31612345678")], SendOptions(send_at=send_at))


def test_it_sends_the_dlt_template_id(mocked):
    mocked.post(
        V3 + "sms/send",
        json=fixture("send_single.json"),
        match=[
            matchers.json_params_matcher(
                {
                    "recipient": "919812345678",
                    "sender_id": "INFOPR",
                    "type": "plain",
                    "message": "Your OTP is 1234",
                    "dlt_template_id": "1107161234567890123",
                }
            )
        ],
    )
    dlt = DltFields(template_id="1107161234567890123", principal_entity_id="1101000000")

    v3().send_batch(
        [sms("+919812345678", text="Your OTP is 1234", sender="INFOPR")], SendOptions(dlt=dlt)
    )


def test_it_sends_text_needing_ucs2_as_unicode(mocked):
    mocked.post(
        V3 + "sms/send",
        json=fixture("send_single.json"),
        match=[
            matchers.json_params_matcher(
                {
                    "recipient": "31612345678",
                    "sender_id": "31687654321",
                    "type": "unicode",
                    "message": "Привет 😀",
                }
            )
        ],
    )

    v3().send_batch(
        [sms("+31612345678", text="Привет 😀", sender="+31687654321", encoding="UCS-2")],
        SendOptions(),
    )


def test_it_parks_a_number_missing_from_the_answer_as_unknown(mocked):
    body = fixture("send_multiple.json")
    body["data"] = body["data"][1:]
    mocked.post(V3 + "sms/send", json=body)

    results = v3().send_batch(
        [sms("+31612345678", ref="1"), sms("+880172145789", ref="2")], SendOptions()
    )

    by_ref = {r.ref: r for r in results}
    assert by_ref["1"].status == Status.ACCEPTED
    assert by_ref["2"].status == Status.UNKNOWN
    assert "Infopromo portal" in by_ref["2"].error_description


def test_it_fails_a_recipient_the_gateway_refused(mocked):
    body = fixture("send_single.json")
    body["data"]["status"] = "Invalid destination number"
    mocked.post(V3 + "sms/send", json=body)

    [result] = v3().send_batch([sms("+31612345678")], SendOptions())

    assert result.status == Status.FAILED
    assert result.error_description == "Invalid destination number"


def test_it_refuses_a_batch_it_cannot_put_in_one_request():
    backend = v3(max_recipients=2)
    with pytest.raises(ValueError):
        backend.send_batch([sms("+31612345678"), sms("+880172145789", text="other")], SendOptions())
    with pytest.raises(ValueError):
        backend.send_batch([sms(f"+3161234567{i}", ref=str(i)) for i in range(3)], SendOptions())


def test_it_needs_a_token():
    backend = InfopromoV3Backend(credentials={})
    with pytest.raises(ProviderError) as exc:
        backend.send_batch([sms("+31612345678")], SendOptions())
    assert exc.value.permanent


# -- errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code"),
    [("error_validation.json", "validation"), ("error_token.json", "auth")],
)
def test_it_raises_the_providers_message_on_an_error_with_http_200(mocked, name, code):
    mocked.post(V3 + "sms/send", json=fixture(name), status=200)

    with pytest.raises(ProviderError) as exc:
        v3().send_batch([sms("+31612345678")], SendOptions())

    assert exc.value.message == fixture(name)["message"]
    assert exc.value.permanent
    assert exc.value.code == code
    # The portal said no: nothing went out.
    assert not exc.value.maybe_sent


def test_it_treats_an_unauthenticated_answer_as_permanent(mocked):
    mocked.post(V3 + "sms/send", json=fixture("unauthenticated.json"), status=401)

    with pytest.raises(ProviderError) as exc:
        v3().send_batch([sms("+31612345678")], SendOptions())

    assert exc.value.permanent


def test_it_shows_the_fields_of_a_validation_answer(mocked):
    mocked.post(V3 + "sms/send", json=fixture("validation_422.json"), status=422)

    with pytest.raises(ProviderError) as exc:
        v3().send_batch([sms("+31612345678")], SendOptions())

    assert exc.value.permanent
    assert "The recipient field is required." in exc.value.message


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 500, "body": "<html>Server Error</html>"},
        {"status": 503, "body": "Service Unavailable"},
        {
            "status": 429,
            "json": {"message": "Too Many Attempts."},
            "headers": {"Retry-After": "30"},
        },
        {"status": 200, "json": fixture("error_throttled.json")},
        {"status": 200, "body": "<html>Bad gateway page</html>"},
        {"status": 200, "json": ["not", "an", "envelope"]},
        {"body": requests.ReadTimeout("read timed out")},
        {"body": requests.ConnectionError("refused")},
    ],
)
def test_it_leaves_passing_failures_retryable(mocked, answer):
    mocked.post(V3 + "sms/send", **answer)

    with pytest.raises(ProviderError) as exc:
        v3().send_batch([sms("+31612345678")], SendOptions())

    assert not exc.value.permanent


@pytest.mark.parametrize(
    "answer",
    [
        {"json": ["not", "an", "envelope"]},
        {"json": {"message": "Queued"}},
        {"body": "<html>Your message was sent</html>"},
        {"body": requests.ReadTimeout("read timed out")},
    ],
)
def test_it_flags_an_unclear_answer_to_a_send_as_maybe_sent(mocked, answer):
    mocked.post(V3 + "sms/send", **answer)

    with pytest.raises(ProviderError) as exc:
        v3().send_batch([sms("+31612345678")], SendOptions())

    assert exc.value.maybe_sent
    assert not exc.value.permanent


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 500, "body": "Server Error"},
        {"status": 429, "body": ""},
        {"json": fixture("error_throttled.json")},
        {"body": requests.ConnectTimeout("connect timed out")},
    ],
)
def test_it_knows_a_refused_send_did_not_go_out(mocked, answer):
    mocked.post(V3 + "sms/send", **answer)

    with pytest.raises(ProviderError) as exc:
        v3().send_batch([sms("+31612345678")], SendOptions())

    assert not exc.value.maybe_sent


def test_it_keeps_retry_after_from_a_429(mocked):
    mocked.post(V3 + "sms/send", status=429, headers={"Retry-After": "30"}, body="")

    with pytest.raises(ProviderError) as exc:
        v3().send_batch([sms("+31612345678")], SendOptions())

    assert exc.value.retry_after == 30


def test_it_calls_a_wrong_base_url_a_permanent_error(mocked):
    mocked.post(V3 + "sms/send", status=404, body="<html>Not Found</html>")

    with pytest.raises(ProviderError) as exc:
        v3().send_batch([sms("+31612345678")], SendOptions())

    assert exc.value.permanent
    assert "base URL" in exc.value.message


# -- the HTTP API ------------------------------------------------------------------


def test_it_puts_the_api_token_in_the_http_body(mocked):
    mocked.post(
        HTTP + "sms/send",
        json=fixture("send_single.json"),
        match=[
            matchers.header_matcher(HTTP_HEADERS),
            matchers.json_params_matcher(
                {
                    "api_token": TOKEN,
                    "recipient": "31612345678",
                    "sender_id": "YourName",
                    "type": "plain",
                    "message": "This is a test message",
                }
            ),
        ],
    )

    [result] = http().send_batch([sms("+31612345678")], SendOptions())

    assert "Authorization" not in mocked.calls[0].request.headers
    assert result.provider_message_id == "606812e63f78b"


def test_it_sends_the_documented_http_multiple_numbers_example(mocked):
    mocked.post(
        HTTP + "sms/send",
        json=fixture("send_scheduled.json"),
        match=[
            matchers.json_params_matcher(
                {
                    "api_token": TOKEN,
                    "recipient": "31612345678,880172145789",
                    "sender_id": "YourName",
                    "type": "plain",
                    "message": "This is a test message",
                    "schedule_time": "2021-12-20 07:00",
                }
            )
        ],
    )

    results = http().send_batch(
        [sms("+31612345678", ref="1"), sms("+880172145789", ref="2")],
        SendOptions(send_at=dt.datetime(2021, 12, 20, 7, 0, tzinfo=dt.UTC)),
    )

    assert {r.status for r in results} == {Status.ACCEPTED}


def test_it_sends_by_get_with_a_query_string(mocked):
    # The documented GET example, plus "type", which the parameter table requires.
    mocked.get(
        HTTP + "sms/send",
        json=fixture("send_single.json"),
        match=[
            matchers.query_param_matcher(
                {
                    "recipient": "31612345678",
                    "sender_id": "YourName",
                    "message": "test",
                    "api_token": TOKEN,
                    "type": "plain",
                }
            )
        ],
    )

    [result] = http(http_method="get").send_batch([sms("+31612345678", text="test")], SendOptions())

    assert mocked.calls[0].request.body is None
    assert result.provider_message_id == "606812e63f78b"


def test_it_raises_an_http_api_error_with_http_200(mocked):
    mocked.post(HTTP + "sms/send", json=fixture("error_token.json"))

    with pytest.raises(ProviderError) as exc:
        http().send_batch([sms("+31612345678")], SendOptions())

    assert exc.value.permanent
    assert exc.value.message == "Invalid API token."


# -- status -----------------------------------------------------------------------


def test_it_views_an_sms_as_documented(mocked):
    mocked.get(
        V3 + "sms/606812e63f78b",
        json=fixture("view_sms.json"),
        match=[matchers.header_matcher(V3_HEADERS)],
    )

    [report] = v3().poll_statuses(["606812e63f78b"])

    assert report.provider_message_id == "606812e63f78b"
    assert report.status == Status.DELIVERED
    assert report.cost == Decimal("1")
    assert report.segments == 1


def test_it_views_an_sms_through_the_http_api_as_documented(mocked):
    mocked.get(
        HTTP + "sms/606812e63f78b",
        json=fixture("view_sms.json"),
        match=[
            matchers.header_matcher(HTTP_HEADERS),
            matchers.json_params_matcher({"api_token": TOKEN}),
        ],
    )

    [report] = http().poll_statuses(["606812e63f78b"])

    assert report.status == Status.DELIVERED


def test_it_views_an_sms_through_the_http_api_by_query_string(mocked):
    mocked.get(
        HTTP + "sms/606812e63f78b",
        json=fixture("view_sms.json"),
        match=[matchers.query_param_matcher({"api_token": TOKEN})],
    )

    [report] = http(http_method="get").poll_statuses(["606812e63f78b"])

    assert report.status == Status.DELIVERED


@pytest.mark.parametrize(
    ("word", "status", "description"),
    [
        ("Delivered", Status.DELIVERED, ""),
        ("Undelivered", Status.UNDELIVERED, ""),
        ("Expired", Status.EXPIRED, ""),
        ("Enroute", Status.ACCEPTED, ""),
        ("Accepted", Status.ACCEPTED, ""),
        ("Skipped", Status.SKIPPED, ""),
        ("Rejected", Status.REJECTED, ""),
        ("Failed", Status.FAILED, ""),
        ("delivered", Status.DELIVERED, ""),
        ("Delivered|8f2a11c0", Status.DELIVERED, ""),
        ("", Status.ACCEPTED, ""),
        ("Sender ID not approved", Status.FAILED, "Sender ID not approved"),
    ],
)
def test_it_maps_the_status_words(mocked, word, status, description):
    body = fixture("view_sms.json")
    body["data"]["status"] = word
    mocked.get(V3 + "sms/606812e63f78b", json=body)

    [report] = v3().poll_statuses(["606812e63f78b"])

    assert (report.status, report.error_description) == (status, description)


def test_it_waits_before_trusting_a_fresh_delivered(mocked):
    now = dt.datetime.now(dt.UTC)
    fresh = fixture("view_sms.json")
    fresh["data"]["created_at"] = (now - dt.timedelta(minutes=2)).isoformat()
    settled = fixture("view_sms.json")
    settled["data"]["uid"] = "606812e63f78c"
    settled["data"]["created_at"] = (now - dt.timedelta(hours=1)).strftime(
        "%Y-%m-%dT%H:%M:%S.000000Z"
    )
    mocked.get(V3 + "sms/606812e63f78b", json=fresh)
    mocked.get(V3 + "sms/606812e63f78c", json=settled)

    reports = v3().poll_statuses(["606812e63f78b", "606812e63f78c"])

    assert [r.status for r in reports] == [Status.ACCEPTED, Status.DELIVERED]


def test_it_skips_an_unknown_uid_and_reads_the_others(mocked):
    mocked.get(V3 + "sms/0000000000000", json=fixture("error_not_found.json"))
    mocked.get(V3 + "sms/606812e63f78b", json=fixture("view_sms.json"))

    reports = v3().poll_statuses(["", "0000000000000", "606812e63f78b"])

    assert [r.provider_message_id for r in reports] == ["606812e63f78b"]


def test_it_stops_polling_on_a_bad_token(mocked):
    mocked.get(V3 + "sms/606812e63f78b", json=fixture("error_token.json"))

    with pytest.raises(ProviderError) as exc:
        v3().poll_statuses(["606812e63f78b", "606812e63f78c"])

    assert exc.value.permanent
    assert len(mocked.calls) == 1


# -- the message log --------------------------------------------------------------


def test_it_lists_messages_a_page_at_a_time(mocked):
    mocked.get(
        V3 + "sms",
        json=fixture("list_sms_page2.json"),
        match=[
            matchers.header_matcher(V3_HEADERS),
            matchers.query_param_matcher(
                {
                    "page": "2",
                    "start_date": "2024-05-01 05:30:00",
                    "end_date": "2024-05-02 05:30:00",
                    "timezone": "Asia/Kolkata",
                    "sms_type": "plain",
                    "direction": "outgoing",
                }
            ),
        ],
    )

    page = v3(timezone="Asia/Kolkata").list_messages(
        2,
        start_date=dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
        end_date=dt.datetime(2024, 5, 2, tzinfo=dt.UTC),
        sms_type="plain",
        direction="outgoing",
    )

    assert (page.page, page.last_page, page.total) == (2, 3, 52)
    assert [(r.provider_message_id, r.status) for r in page.reports] == [
        ("606812e63f78b", Status.UNDELIVERED),
        ("606812e63f79c", Status.ACCEPTED),
    ]
    assert page.reports[1].cost == Decimal("2.5")
    assert page.reports[1].segments == 2


def test_it_lists_messages_through_the_http_api(mocked):
    mocked.get(
        HTTP + "sms",
        json=fixture("list_sms_page2.json"),
        match=[
            matchers.query_param_matcher({"page": "2"}),
            matchers.json_params_matcher({"api_token": TOKEN}),
        ],
    )

    page = http().list_messages(2)

    assert page.total == 52


def test_it_refuses_a_filter_infopromo_does_not_have():
    with pytest.raises(ValueError):
        v3().list_messages(1, status="Delivered")


def test_it_checks_the_connection_with_a_harmless_read(mocked):
    mocked.get(
        V3 + "sms",
        json=fixture("list_sms_page2.json"),
        match=[matchers.query_param_matcher({"page": "1"})],
    )

    assert "52 messages" in v3().check_connection()


def test_it_reports_a_failed_connection_check(mocked):
    mocked.get(V3 + "sms", json=fixture("unauthenticated.json"), status=401)

    with pytest.raises(ProviderError):
        v3().check_connection()


# -- campaigns to contact lists ------------------------------------------------------


def test_it_sends_a_campaign_to_contact_lists(mocked):
    mocked.post(
        V3 + "sms/campaign",
        json=fixture("campaign_send.json"),
        match=[
            matchers.header_matcher(V3_HEADERS),
            matchers.json_params_matcher(
                {
                    "contact_list_id": "6415907d0d37a,6415907d0d7a6",
                    "sender_id": "YourName",
                    "type": "plain",
                    "message": "This is a test message",
                    "schedule_time": "2021-12-20 07:00",
                }
            ),
        ],
    )

    campaign = v3().send_to_provider_lists(
        ["6415907d0d37a", "6415907d0d7a6"],
        "This is a test message",
        "YourName",
        SendOptions(send_at=dt.datetime(2021, 12, 20, 7, 0, tzinfo=dt.UTC)),
    )

    assert campaign["uid"] == "6415a1c2e4f07"


def test_it_views_a_campaign_with_its_counts(mocked):
    mocked.get(
        V3 + "campaign/606812e63f78b/view",
        json=fixture("campaign_view.json"),
        match=[matchers.header_matcher(V3_HEADERS)],
    )

    campaign = v3().view_campaign("606812e63f78b")

    assert campaign["name"] == "May offers"
    assert campaign["stats"] == {
        "accepted": 8,
        "delivered": 120,
        "undelivered": 4,
        "expired": 1,
        "rejected": 2,
        "skipped": 0,
        "failed": 1,
    }
    assert campaign["provider_stats"]["enroute_count"] == 3


def test_it_raises_a_campaign_error(mocked):
    mocked.post(
        V3 + "sms/campaign",
        json={"status": "error", "message": "Contact list 6415907d0d37a not found."},
    )

    with pytest.raises(ProviderError) as exc:
        v3().send_to_provider_lists(["6415907d0d37a"], "Hi", "YourName", SendOptions())

    assert exc.value.permanent


def test_the_http_api_has_no_campaign_send():
    with pytest.raises(NotImplementedError):
        http().send_to_provider_lists(["6415907d0d37a"], "Hi", "YourName", SendOptions())


# -- over real HTTP --------------------------------------------------------------------


def test_it_sends_and_polls_against_a_fake_portal():
    handler = make_handler(token=TOKEN)
    with serve(handler) as base_url:
        backend = InfopromoV3Backend(base_url=base_url, credentials={"api_token": TOKEN})
        batch = [
            sms("+31612345678", ref="1"),
            sms("+31612345679", ref="2"),
            sms("+880172145789", ref="3"),
        ]

        results = backend.send_batch(batch, SendOptions())
        uids = {r.ref: r.provider_message_id for r in results}
        reports = backend.poll_statuses(list(uids.values()))
        page = backend.list_messages(1)

    assert all(len(uid) == 13 and int(uid, 16) >= 0 for uid in uids.values())
    assert {r.status for r in results} == {Status.ACCEPTED}
    assert {r.provider_message_id: r.status for r in reports} == {
        uids["1"]: Status.DELIVERED,
        uids["2"]: Status.UNDELIVERED,
        uids["3"]: Status.UNDELIVERED,
    }
    assert all(r.cost == Decimal("1") for r in reports)
    assert page.total == 3
    method, path, fields = handler.requests_seen[0]
    assert (method, path) == ("POST", "/api/v3/sms/send")
    assert fields["recipient"] == "31612345678,31612345679,880172145789"


def test_it_sends_by_get_and_reads_back_through_a_fake_portal():
    handler = make_handler(token=TOKEN)
    with serve(handler) as base_url:
        backend = InfopromoHttpBackend(
            base_url=base_url, credentials={"api_token": TOKEN}, options={"http_method": "get"}
        )
        [result] = backend.send_batch([sms("+31612345678", text="Привет")], SendOptions())
        [report] = backend.poll_statuses([result.provider_message_id])

        wrong = InfopromoHttpBackend(base_url=base_url, credentials={"api_token": "wrong"})
        with pytest.raises(ProviderError) as exc:
            wrong.send_batch([sms("+31612345678")], SendOptions())

    assert report.status == Status.DELIVERED
    assert handler.requests_seen[0][0] == "GET"
    assert handler.requests_seen[0][2]["type"] == "unicode"
    assert exc.value.permanent and exc.value.message == "Invalid API token."
