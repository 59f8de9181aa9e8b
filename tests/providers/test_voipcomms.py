import base64
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import requests
import responses

from providers.backends.voipcomms import VoipCommsBackend
from providers.base import (
    OutboundSms,
    ProviderError,
    SendOptions,
    Unavailable,
    WebhookRejected,
    WebhookRequest,
)
from providers.status import Status
from tests.providers.fakes import serve
from tests.providers.fakes import voipcomms as fake

FIXTURES = Path(__file__).parent / "fixtures" / "voipcomms"
BASE = "https://voip-communications.net/api-v2/index.php/"
SEND = BASE + "sms/send"
SUMMARY = BASE + "sms/summary"
DELETE = BASE + "sms/delete"
CREDENTIALS = {"api_key": "YOUR_API_KEY", "api_password": "YOUR_API_PASSWORD"}
BASIC = "Basic " + base64.b64encode(b"YOUR_API_KEY:YOUR_API_PASSWORD").decode()


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


def backend(**options):
    return VoipCommsBackend(credentials=CREDENTIALS, options=options)


def sms(to="+12812345678", text="It is a SMS message", sender="", ref="1"):
    return OutboundSms(ref=ref, to=to, text=text, sender=sender)


def form(call):
    return parse_qsl(call.request.body, keep_blank_values=True)


def callback(body, content_type, form_fields=None):
    return WebhookRequest(
        method="POST", content_type=content_type, body=body, form=form_fields or {}
    )


@pytest.fixture
def api():
    with responses.RequestsMock() as mock:
        yield mock


# -- the seed's requests ------------------------------------------------------


def test_it_sends_the_seeds_curl_example_as_bulk_sms(api):
    api.post(SEND, json=fixture("send_scheduled.json"))

    backend().send_batch([sms(text="TEXT_MESSAGE")], SendOptions())

    call = api.calls[0]
    assert call.request.url == SEND
    assert call.request.headers["Authorization"] == BASIC
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert call.request.body == "to=12812345678&msg=TEXT_MESSAGE"


def test_it_sends_the_seeds_php_example_from_a_two_way_number_with_a_delivery_date(api):
    api.post(SEND, json=fixture("send_scheduled.json"))
    provider = backend(two_way_numbers=["17134567890"], timezone="America/Chicago")
    # 19:15 UTC is 13:15 in Chicago in January.
    send_at = dt.datetime(2010, 1, 1, 19, 15, tzinfo=dt.UTC)

    provider.send_batch(
        [sms(text="TEXT_MESSAGE", sender="+17134567890")], SendOptions(send_at=send_at)
    )

    assert form(api.calls[0]) == [
        ("from", "17134567890"),
        ("to", "12812345678"),
        ("msg", "TEXT_MESSAGE"),
        ("delivery_date", "2010-01-01 13:15"),
    ]
    assert api.calls[0].request.headers["Authorization"] == BASIC


def test_it_reads_the_seeds_send_log_with_its_smsid_and_no_charge_until_sent(api):
    api.post(SEND, json=fixture("send_scheduled.json"))

    [result] = backend().send_batch([sms(ref="5")], SendOptions())

    assert (result.ref, result.status, result.provider_message_id) == (
        "5",
        Status.ACCEPTED,
        "2017559ea27008c6b7122900621",
    )
    # SCHEDULED: "the charge will be applied just at the moment of the
    # message be sent", so its sale is a price, kept in the history, not a cost.
    assert result.cost is None
    assert result.raw == fixture("send_scheduled.json")["send_log"][0]
    assert result.raw["sale"] == 0.01


def test_a_message_sent_now_costs_its_sale(api):
    api.post(SEND, json=fixture("send_mixed.json"))

    [result] = backend().send_batch(
        [sms(to="+12812345678", text="Spring sale: 20% off today")], SendOptions()
    )

    assert (result.status, result.cost, result.currency) == (
        Status.ACCEPTED,
        Decimal("0.0125"),
        "EUR",
    )


def test_it_takes_the_currency_from_the_account(api):
    api.post(SEND, json=fixture("send_mixed.json"))

    [result] = backend(currency="usd").send_batch([sms(to="+12812345678")], SendOptions())

    assert result.currency == "USD"


def test_it_sends_many_numbers_in_one_request_and_reads_each_one(api):
    api.post(SEND, json=fixture("send_mixed.json"))
    messages = [
        sms(to="+12812345678", text="Spring sale: 20% off today", ref="1"),
        sms(to="+1999", text="Spring sale: 20% off today", ref="2"),
        sms(to="+12812345670", text="Spring sale: 20% off today", ref="3"),
    ]

    results = {r.ref: r for r in backend().send_batch(messages, SendOptions())}

    assert dict(form(api.calls[0]))["to"] == "12812345678,1999,12812345670"
    assert (results["1"].status, results["1"].cost) == (Status.ACCEPTED, Decimal("0.0125"))
    assert results["1"].provider_message_id == "2017559ea27008c6b7122900622"
    assert (results["2"].status, results["2"].error_code) == (Status.REJECTED, "400")
    assert results["2"].error_description == "Invalid destination number"
    # Left out of the log: it may have gone out, so it is never re-sent blindly.
    assert results["3"].status == Status.UNKNOWN


def test_it_marks_every_number_unknown_when_the_answer_has_no_send_log(api):
    api.post(SEND, json={"result": "ok"})

    results = backend().send_batch([sms(ref="1"), sms(to="+12812345679", ref="2")], SendOptions())

    assert {r.status for r in results} == {Status.UNKNOWN}


# -- senders ------------------------------------------------------------------


def test_it_refuses_a_sender_that_is_not_one_of_the_accounts_numbers(api):
    provider = backend(two_way_numbers=["17134567890"])

    with pytest.raises(ProviderError) as exc:
        provider.send_batch([sms(sender="+15550001111")], SendOptions())

    assert exc.value.permanent
    assert "+15550001111 is not one of this account's 2-way numbers" in exc.value.message
    assert "17134567890" in exc.value.message
    assert len(api.calls) == 0


def test_it_refuses_a_named_sender():
    [error] = backend().sender_errors("Brand")

    assert "cannot send from a name" in error


def test_it_accepts_an_empty_sender_as_bulk_and_an_own_number_as_two_way():
    provider = backend(two_way_numbers="17134567890, 12815550000")

    assert provider.sender_errors("") == []
    assert provider.sender_errors("+12815550000") == []


def test_it_refuses_a_batch_mixing_texts(api):
    with pytest.raises(ProviderError):
        backend().send_batch([sms(text="a"), sms(text="b", ref="2")], SendOptions())


# -- errors -------------------------------------------------------------------


def test_it_maps_the_error_envelope_to_a_permanent_error(api):
    api.post(SEND, json=fixture("error.json"))

    with pytest.raises(ProviderError) as exc:
        backend().send_batch([sms()], SendOptions())

    assert exc.value.permanent
    assert exc.value.message == "Insufficient balance"
    assert exc.value.raw == fixture("error.json")


def test_it_stops_on_invalid_credentials(api):
    api.post(SEND, json={"error": True, "error_message": "Invalid api credentials"}, status=401)

    with pytest.raises(ProviderError) as exc:
        backend().send_batch([sms()], SendOptions())

    assert (exc.value.code, exc.value.permanent) == ("401", True)


@pytest.mark.parametrize(
    ("reply", "code", "maybe_sent"),
    [
        ({"body": "Service Unavailable", "status": 503}, "503", False),
        ({"body": "", "status": 429}, "429", False),
        ({"body": requests.ConnectTimeout()}, "connection", False),
        ({"body": requests.ConnectionError()}, "connection", False),
        # The request reached the provider: it may have sent the messages.
        ({"body": requests.ReadTimeout()}, "timeout", True),
        ({"body": "<html>oops", "status": 200}, "bad_json", True),
        ({"json": ["not", "an", "object"], "status": 200}, "bad_json", True),
    ],
)
def test_it_retries_transient_failures(api, reply, code, maybe_sent):
    api.post(SEND, **reply)

    with pytest.raises(ProviderError) as exc:
        backend().send_batch([sms()], SendOptions())

    assert (exc.value.code, exc.value.permanent) == (code, False)
    assert exc.value.maybe_sent == maybe_sent


# -- cancelling a scheduled message ---------------------------------------------


def test_it_cancels_scheduled_messages_by_smsid(api):
    api.post(DELETE, json={"error": False})
    api.post(DELETE, json={"error": True, "error_message": "The SMS was already sent"})

    cancelled = backend().cancel(["2017559ea27008c6b7122900621", "2017559ea27008c6b7122900622"])

    assert cancelled == ["2017559ea27008c6b7122900621"]
    assert form(api.calls[0]) == [("smsid", "2017559ea27008c6b7122900621")]
    assert api.calls[0].request.headers["Authorization"] == BASIC


def test_it_retries_a_cancel_the_provider_did_not_answer(api):
    api.post(DELETE, body="", status=502)

    with pytest.raises(ProviderError) as exc:
        backend().cancel(["2017559ea27008c6b7122900621"])

    assert not exc.value.permanent
    assert exc.value.cancelled == []


@pytest.mark.parametrize(
    "reply",
    [
        # JSON without "error": true is not a confirmation by itself.
        {"json": {}, "status": 200},
        {"json": {"smsid": "2017559ea27008c6b7122900621"}, "status": 200},
        {"json": {"status": "ok"}, "status": 200},
        {"body": "OK", "status": 200},
        {"json": {"error": False}, "status": 400},
        {"json": {"error": False, "message": "queued"}, "status": 422},
    ],
)
def test_only_a_2xx_saying_no_error_confirms_a_cancel(api, reply):
    api.post(DELETE, **reply)

    assert backend().cancel(["2017559ea27008c6b7122900621"]) == []


@pytest.mark.parametrize(
    "reply",
    [
        {"json": {"message": "Not Found"}},
        {"json": {"error": False}},
        {"json": {"error": True, "error_message": "Unknown method"}},
        {"body": "<html><body>Not Found</body></html>"},
    ],
)
def test_a_delete_call_the_account_does_not_have_makes_cancel_unavailable(api, reply):
    api.post(DELETE, status=404, **reply)

    with pytest.raises(Unavailable) as exc:
        backend().cancel(["2017559ea27008c6b7122900621", "2017559ea27008c6b7122900622"])

    assert exc.value.feature == "cancel"
    assert exc.value.cancelled == []
    assert "sms/delete answered HTTP 404" in exc.value.message
    assert "go out at their scheduled time" in exc.value.message
    assert len(api.calls) == 1


def test_what_was_deleted_before_an_error_is_kept(api):
    api.post(DELETE, json={"error": False})
    api.post(DELETE, body="", status=503)

    with pytest.raises(ProviderError) as exc:
        backend().cancel(["2017559ea27008c6b7122900621", "2017559ea27008c6b7122900622"])

    assert exc.value.cancelled == ["2017559ea27008c6b7122900621"]


# -- status from the SMS log --------------------------------------------------


def test_it_reads_statuses_from_the_sms_log_page_by_page(api):
    api.post(SUMMARY, json=fixture("summary_page_1.json"))
    api.post(SUMMARY, json=fixture("summary_page_2.json"))

    reports = backend(timezone="America/Chicago").poll_statuses(
        ["2017559ea27008c6b7122900621", "2017559ea27008c6b7122900623"]
    )

    by_id = {r.provider_message_id: r for r in reports}
    delivered = by_id["2017559ea27008c6b7122900623"]
    assert (delivered.status, delivered.cost, delivered.currency) == (
        Status.DELIVERED,
        Decimal("0.01"),
        "EUR",
    )
    assert delivered.done_at == dt.datetime(2024, 3, 5, 16, 15, 2, tzinfo=dt.UTC)
    assert by_id["2017559ea27008c6b7122900621"].status == Status.ACCEPTED
    assert [form(c) for c in api.calls] == [[("page", "1")], [("page", "2")]]


def test_it_stops_reading_the_log_at_its_end(api):
    api.post(SUMMARY, json=fixture("summary_page_1.json"))
    api.post(SUMMARY, json={"summary": []})

    reports = backend().poll_statuses(["unknown-id"])

    assert reports == []
    assert len(api.calls) == 2


def test_it_checks_the_connection_by_reading_the_sms_log(api):
    api.post(SUMMARY, json=fixture("summary_page_1.json"))

    description = backend().check_connection()

    assert "accepted the credentials" in description
    assert api.calls[0].request.headers["Authorization"] == BASIC


@pytest.mark.parametrize(
    "reply",
    [
        {"json": {"error": True, "error_message": "Unknown method"}},
        {"json": {"message": "Not Found"}},
        {"body": "<html><body>Not Found</body></html>"},
    ],
)
def test_an_sms_log_the_account_does_not_have_makes_polling_unavailable(api, reply):
    api.post(SUMMARY, status=404, **reply)
    api.post(SUMMARY, status=404, **reply)

    with pytest.raises(Unavailable) as polled:
        backend().poll_statuses(["2017559ea27008c6b7122900621"])
    with pytest.raises(Unavailable) as checked:
        backend().check_connection()

    for exc in (polled, checked):
        assert exc.value.feature == "polling"
        assert "sms/summary answered HTTP 404" in exc.value.message
        assert "Statuses stay as the send answer gave them" in exc.value.message


def test_refused_credentials_on_the_sms_log_are_a_failure_not_unavailable(api):
    api.post(SUMMARY, json={"error": True, "error_message": "Invalid api credentials"}, status=401)

    with pytest.raises(ProviderError) as exc:
        backend().check_connection()

    assert not isinstance(exc.value, Unavailable)
    assert (exc.value.code, exc.value.permanent) == ("401", True)


# -- reply callbacks ------------------------------------------------------------


def test_it_reads_a_json_reply_callback():
    body = (FIXTURES / "reply_callback.json").read_bytes()

    result = backend().parse_webhook(callback(body, "application/json"))

    [inbound] = result.inbound
    assert (inbound.provider_message_id, inbound.sender, inbound.recipient, inbound.text) == (
        "2017559ea27008c6b7122901000",
        "+12812345678",
        "+17134567890",
        "STOP",
    )
    assert inbound.received_at == dt.datetime(2024, 3, 5, 10, 20, 31, tzinfo=dt.UTC)
    assert inbound.raw == fixture("reply_callback.json")
    assert result.status_code == 200


def test_it_reads_a_form_reply_callback_and_gives_it_a_stable_id():
    body = (FIXTURES / "reply_callback.form").read_bytes()
    fields = dict(parse_qsl(body.decode()))

    first = backend().parse_webhook(callback(body, "application/x-www-form-urlencoded", fields))
    again = backend().parse_webhook(callback(body, "application/x-www-form-urlencoded"))

    [inbound] = first.inbound
    assert (inbound.sender, inbound.text) == ("+12812345678", "Yes, count me in")
    assert inbound.raw == fields
    assert inbound.provider_message_id.startswith("voipcomms-")
    assert again.inbound[0].provider_message_id == inbound.provider_message_id


def test_it_reads_a_reply_callback_in_the_query_string():
    request = WebhookRequest(
        method="GET",
        content_type="",
        body=b"",
        query={"from": "12812345678", "to": "17134567890", "msg": "hi", "smsid": "a1"},
    )

    [inbound] = backend().parse_webhook(request).inbound

    assert (inbound.provider_message_id, inbound.text) == ("a1", "hi")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[]", "application/json"),
        (b'{"to": "17134567890", "msg": "hi"}', "application/json"),
        (b"from=12812345678", "application/x-www-form-urlencoded"),
    ],
)
def test_it_rejects_a_malformed_reply_callback(body, content_type):
    with pytest.raises(WebhookRejected):
        backend().parse_webhook(callback(body, content_type))


# -- over real HTTP -----------------------------------------------------------


def test_it_schedules_and_cancels_through_a_fake_provider_over_http():
    handler = fake.handler("key", "secret", numbers=("17134567890",))
    send_at = dt.datetime(2030, 6, 1, 12, 30, tzinfo=dt.UTC)
    with serve(handler) as base_url:
        provider = VoipCommsBackend(
            base_url=base_url + "/api-v2/index.php/",
            credentials={"api_key": "key", "api_password": "secret"},
            options={"two_way_numbers": ["17134567890"], "currency": "USD"},
        )
        messages = [
            sms(to="+12812345678", sender="+17134567890", ref="1"),
            sms(to="+12812345679", sender="+17134567890", ref="2"),
        ]
        results = provider.send_batch(messages, SendOptions(send_at=send_at))
        smsid = {r.ref: r.provider_message_id for r in results}
        cancelled = provider.cancel([smsid["1"]])
        reports = provider.poll_statuses([smsid["1"], smsid["2"]])

    path, headers, sent = handler.received[0]
    assert path == "/api-v2/index.php/sms/send"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"key:secret").decode()
    assert sent == {
        "from": "17134567890",
        "to": "12812345678,12812345679",
        "msg": "It is a SMS message",
        "delivery_date": "2030-06-01 12:30",
    }
    assert {(r.ref, r.status, r.cost, r.currency) for r in results} == {
        ("1", Status.ACCEPTED, None, "USD"),
        ("2", Status.ACCEPTED, None, "USD"),
    }
    assert handler.received[1][0] == "/api-v2/index.php/sms/delete"
    assert cancelled == [smsid["1"]]
    assert {r.provider_message_id: r.status for r in reports} == {
        smsid["1"]: Status.CANCELLED,
        smsid["2"]: Status.ACCEPTED,
    }
