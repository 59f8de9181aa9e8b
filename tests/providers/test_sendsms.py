import datetime as dt
import json
from pathlib import Path

import pytest
import requests
import responses

from providers.backends.sendsms import SendsmsBackend
from providers.base import OutboundSms, ProviderError, SendOptions, WebhookRejected, WebhookRequest
from providers.status import Status
from tests.providers.fakes import sendsms as fake
from tests.providers.fakes import serve

FIXTURES = Path(__file__).parent / "fixtures" / "sendsms"
ENDPOINT = "https://api.sendsms.test/API/v2/index.php"
KEY = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


def backend(**options):
    return SendsmsBackend(base_url=ENDPOINT, credentials={"api_key": KEY}, options=options)


def sms(to="+10000000001", sender="00000", text="Hello", ref="1"):
    return OutboundSms(ref=ref, to=to, text=text, sender=sender)


def failure(code, info="", to="10000000001"):
    return {"status": "Failure", "error-code": code, "error-info": info, "to": to}


def sent(call):
    return json.loads(call.request.body)


def postback(body):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return WebhookRequest(method="POST", content_type="application/json", body=data)


@pytest.fixture
def api():
    with responses.RequestsMock() as mock:
        yield mock


# -- the seed's requests ------------------------------------------------------


def test_it_sends_the_seeds_first_example(api):
    api.post(ENDPOINT, json=fixture("send_success.json"))
    message = sms(text="This message is sent for testing purposes only.")

    backend().send_batch([message], SendOptions())

    expected = fixture("send_example_1.json")
    # The example writes "+10000000001", but the provider's introduction asks
    # for no "+" and its own failure example echoes "10000000001".
    expected["to"] = "10000000001"
    assert sent(api.calls[0]) == expected
    assert api.calls[0].request.headers["x-api-key"] == KEY
    assert api.calls[0].request.headers["Content-Type"] == "application/json"
    assert api.calls[0].request.url == ENDPOINT


def test_it_sends_the_seeds_second_example_with_mask_campaign_and_click_tracking(api):
    api.post(ENDPOINT, json=fixture("send_success.json"))
    message = sms(sender="Dunder Mifflin", text="Visit https://www.fakeurl.com/ for more info.")
    options = SendOptions(campaign_ref="campaign2345", click_tracking=True)

    backend(from_number="00000").send_batch([message], options)

    expected = fixture("send_example_2.json")
    expected["to"] = "10000000001"
    assert sent(api.calls[0]) == expected
    assert api.calls[0].request.headers["x-api-key"] == KEY


def test_it_records_the_tracking_id_of_a_success(api):
    api.post(ENDPOINT, json=fixture("send_success.json"))

    [result] = backend().send_batch([sms(ref="42")], SendOptions())

    assert (result.ref, result.status, result.provider_message_id) == (
        "42",
        Status.ACCEPTED,
        "xxxxxxxxxxxx",
    )
    assert result.raw == fixture("send_success.json")


def test_it_sends_a_numeric_sender_as_from_without_the_plus(api):
    api.post(ENDPOINT, json=fixture("send_success.json"))

    backend(from_number="00000").send_batch([sms(sender="+18005550100")], SendOptions())

    assert sent(api.calls[0])["from"] == "18005550100"
    assert "from-mask" not in sent(api.calls[0])


def test_it_refuses_a_missing_campaign_ref_before_sending_when_the_check_is_enforced(api):
    with pytest.raises(ProviderError) as exc:
        backend(enforce_campaign_check=True).send_batch([sms()], SendOptions())

    assert exc.value.permanent
    assert "campaign reference" in exc.value.message
    assert len(api.calls) == 0


def test_it_sends_the_campaign_ref_when_the_check_is_enforced(api):
    api.post(ENDPOINT, json=fixture("send_success.json"))

    backend(enforce_campaign_check="true").send_batch([sms()], SendOptions(campaign_ref="c1"))

    assert sent(api.calls[0])["campaign-ref"] == "c1"


def test_it_refuses_a_mask_without_the_accounts_from_number(api):
    with pytest.raises(ProviderError) as exc:
        backend().send_batch([sms(sender="Brand")], SendOptions())

    assert exc.value.permanent
    assert len(api.calls) == 0


def test_it_refuses_more_than_one_recipient_per_request(api):
    with pytest.raises(ProviderError):
        backend().send_batch([sms(ref="1"), sms(ref="2")], SendOptions())


def test_it_asks_for_the_endpoint_url_when_none_is_configured():
    unconfigured = SendsmsBackend(credentials={"api_key": KEY})

    with pytest.raises(ProviderError) as exc:
        unconfigured.send_batch([sms()], SendOptions())

    assert exc.value.permanent
    assert "endpoint URL" in exc.value.message


# -- Failure codes ------------------------------------------------------------


def test_it_maps_the_seeds_invalid_sender_failure_to_a_permanent_error(api):
    api.post(ENDPOINT, json=fixture("send_failure_e111.json"))

    with pytest.raises(ProviderError) as exc:
        backend().send_batch([sms()], SendOptions())

    assert exc.value.permanent
    assert exc.value.code == "E111"
    assert "sender" in exc.value.message
    assert "Invalid Sender." in exc.value.message


def test_it_maps_throughput_exceeded_to_a_retryable_error(api):
    api.post(ENDPOINT, json=failure("E113", "Throughput exceeded."))

    with pytest.raises(ProviderError) as exc:
        backend().send_batch([sms()], SendOptions())

    assert not exc.value.permanent
    assert exc.value.code == "E113"
    assert "throughput" in exc.value.message


def test_it_maps_an_invalid_key_to_a_permanent_error(api):
    api.post(ENDPOINT, json=failure("E104", "Invalid API Key."))

    with pytest.raises(ProviderError) as exc:
        backend().send_batch([sms()], SendOptions())

    assert exc.value.permanent
    assert "API key is invalid" in exc.value.message


@pytest.mark.parametrize(
    ("code", "permanent", "words"),
    [
        ("E100", True, "invalid"),
        ("E103", True, "blocked"),
        ("E104", True, "API key"),
        ("E105", True, "no API access"),
        ("E106", False, "too frequently"),
        ("E107", True, "action"),
        ("E108", True, "JSON"),
        ("E111", True, "sender"),
        ("E112", True, "IP address"),
        ("E113", False, "throughput"),
        ("E503", False, "internal error"),
    ],
)
def test_it_maps_each_request_error_code(api, code, permanent, words):
    api.post(ENDPOINT, json=failure(code, "Provider text."))

    with pytest.raises(ProviderError) as exc:
        backend().send_batch([sms()], SendOptions())

    assert (exc.value.code, exc.value.permanent) == (code, permanent)
    assert words in exc.value.message
    assert "Provider text." in exc.value.message
    assert exc.value.raw["error-code"] == code


@pytest.mark.parametrize(
    ("code", "words"),
    [("E110", "number is invalid"), ("E114", "blacklisted"), ("E201", "could not send")],
)
def test_it_rejects_only_the_message_for_a_recipient_error(api, code, words):
    api.post(ENDPOINT, json=failure(code, "Provider text."))

    [result] = backend().send_batch([sms(ref="7")], SendOptions())

    assert (result.ref, result.status, result.error_code) == ("7", Status.REJECTED, code)
    assert words in result.error_description


@pytest.mark.parametrize("to", ["10000000001", "+10000000001"])
def test_an_unknown_code_naming_the_recipient_rejects_only_that_message(api, to):
    # The seed's Failure answer, with a code in neither of the backend's lists.
    api.post(ENDPOINT, json=failure("E321", "Daily limit for this number reached.", to=to))

    [result] = backend().send_batch([sms(ref="7")], SendOptions())

    assert (result.ref, result.status, result.unknown_code) == ("7", Status.REJECTED, True)
    # The provider's own code and words, nothing of ours around them.
    assert (result.error_code, result.error_description) == (
        "E321",
        "Daily limit for this number reached.",
    )
    assert result.raw["error-code"] == "E321"


def test_a_known_recipient_code_is_not_marked_unknown(api):
    api.post(ENDPOINT, json=failure("E110", "Invalid To number."))

    [result] = backend().send_batch([sms()], SendOptions())

    assert (result.status, result.unknown_code) == (Status.REJECTED, False)


@pytest.mark.parametrize("to", ["", "10000000002"])
def test_an_unknown_code_for_no_recipient_of_ours_fails_the_request(api, to):
    api.post(ENDPOINT, json=failure("E999", "Provider text.", to=to))

    with pytest.raises(ProviderError) as exc:
        backend().send_batch([sms()], SendOptions())

    assert (exc.value.code, exc.value.permanent) == ("E999", False)
    assert "refused the request" in exc.value.message
    assert "Provider text." in exc.value.message


def test_it_reads_a_failure_that_comes_with_a_4xx_status(api):
    api.post(ENDPOINT, json=failure("E100", "Invalid request."), status=400)

    with pytest.raises(ProviderError) as exc:
        backend().send_batch([sms()], SendOptions())

    assert (exc.value.code, exc.value.permanent) == ("E100", True)


# -- transport ----------------------------------------------------------------


def test_it_retries_a_server_error(api):
    api.post(ENDPOINT, body="Bad gateway", status=502)

    with pytest.raises(ProviderError) as exc:
        backend().send_batch([sms()], SendOptions())

    assert not exc.value.permanent


def test_it_retries_after_a_429(api):
    api.post(ENDPOINT, body="", status=429, headers={"Retry-After": "30"})

    with pytest.raises(ProviderError) as exc:
        backend().send_batch([sms()], SendOptions())

    assert not exc.value.permanent
    assert exc.value.retry_after == 30


def test_it_retries_a_timeout(api):
    api.post(ENDPOINT, body=requests.ReadTimeout())

    with pytest.raises(ProviderError) as exc:
        backend().send_batch([sms()], SendOptions())

    assert (exc.value.code, exc.value.permanent) == ("timeout", False)
    # The provider may have taken the message before the answer was lost.
    assert exc.value.maybe_sent


def test_it_retries_a_body_that_is_not_json(api):
    api.post(ENDPOINT, body="<html>proxy error</html>", status=200)

    with pytest.raises(ProviderError) as exc:
        backend().send_batch([sms()], SendOptions())

    assert (exc.value.code, exc.value.permanent) == ("bad_json", False)
    assert exc.value.maybe_sent


def test_it_treats_json_that_is_not_an_api_answer_as_unreadable(api):
    api.post(ENDPOINT, json={"unexpected": True})

    with pytest.raises(ProviderError) as exc:
        backend().send_batch([sms()], SendOptions())

    assert (exc.value.code, exc.value.permanent, exc.value.maybe_sent) == ("bad_json", False, True)


def test_it_stops_on_a_4xx_page_that_is_not_the_api(api):
    api.post(ENDPOINT, body="Not Found", status=404)

    with pytest.raises(ProviderError) as exc:
        backend().send_batch([sms()], SendOptions())

    assert exc.value.permanent
    assert "base URL" in exc.value.message


def test_it_stops_on_refused_credentials(api):
    api.post(ENDPOINT, json=failure("E104", "Invalid API Key."), status=401)

    with pytest.raises(ProviderError) as exc:
        backend().send_batch([sms()], SendOptions())

    assert exc.value.permanent


# -- sender rules -------------------------------------------------------------


def test_it_accepts_a_mask_of_eleven_letters_digits_and_dashes():
    assert backend(from_number="00000").sender_errors("Dunder_Mif-") == []


def test_it_refuses_a_mask_the_provider_would_cut():
    [error] = backend(from_number="00000").sender_errors("DunderMifflin")

    assert "'DunderMiffl'" in error


def test_it_refuses_a_mask_with_other_characters():
    errors = backend(from_number="00000").sender_errors("Dunder Miff")

    assert errors == ["A sender mask may use only A–Z, a–z, 0–9, _ and -."]


def test_it_refuses_a_mask_without_a_from_number():
    [error] = backend().sender_errors("Brand")

    assert "from number" in error


@pytest.mark.parametrize(
    ("mask", "ok"),
    [("Shop-24", True), ("Shop_24", True), ("Shop-Now", True), ("Shop.de", False)],
)
def test_it_allows_the_mask_characters_the_provider_documents(mask, ok):
    assert (backend(from_number="00000").sender_errors(mask) == []) is ok


def test_it_accepts_a_short_code_and_refuses_an_empty_sender():
    assert backend().sender_errors("00000") == []
    assert backend().sender_errors("") != []


# -- postbacks ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "error_code"),
    [
        ("postback_n201.json", Status.ACCEPTED, ""),
        ("postback_n202.json", Status.DELIVERED, ""),
        ("postback_e201.json", Status.UNDELIVERED, "E201"),
        ("postback_e202.json", Status.REJECTED, "E202"),
    ],
)
def test_it_reads_each_postback_code(name, status, error_code):
    body = (FIXTURES / name).read_bytes()

    result = backend().parse_webhook(postback(body))

    [report] = result.reports
    assert (report.provider_message_id, report.status, report.error_code) == (
        "xxxxxxxxxxxx",
        status,
        error_code,
    )
    assert report.raw == json.loads(body)
    assert (result.status_code, result.inbound) == (200, [])


def test_it_dates_a_sent_postback_as_sent_and_a_final_one_as_done():
    sent_report = backend().parse_webhook(postback(fixture("postback_n201.json"))).reports[0]
    done_report = backend().parse_webhook(postback(fixture("postback_n202.json"))).reports[0]

    assert sent_report.sent_at == dt.datetime(2021, 1, 26, 18, 0, 7, 990498, tzinfo=dt.UTC)
    assert sent_report.done_at is None
    assert done_report.done_at == dt.datetime(2021, 1, 26, 18, 0, 12, 120000, tzinfo=dt.UTC)


def test_it_keeps_the_failure_words_of_a_postback():
    [report] = backend().parse_webhook(postback(fixture("postback_e202.json"))).reports

    assert report.error_description == "Rejected"


def test_it_reads_a_postback_of_a_masked_message():
    [report] = backend().parse_webhook(postback(fixture("postback_n201_mask.json"))).reports

    assert (report.provider_message_id, report.status) == ("yyyyyyyyyyyy", Status.ACCEPTED)
    assert report.raw["campaign-ref"] == "campaign2345"


def test_it_reads_a_reply_as_an_inbound_message():
    result = backend().parse_webhook(postback(fixture("postback_sms_mo.json")))

    [inbound] = result.inbound
    assert (inbound.provider_message_id, inbound.sender, inbound.recipient, inbound.text) == (
        "smsmo09ea1b9215",
        "+10000000000",
        "00000",
        "DEMO",
    )
    assert inbound.received_at == dt.datetime(2021, 2, 1, 23, 35, 54, tzinfo=dt.UTC)
    assert inbound.raw == fixture("postback_sms_mo.json")
    assert result.reports == []


def test_it_answers_other_postbacks_without_recording_them():
    result = backend().parse_webhook(postback({"origin": "MMS_MT", "code": "N201"}))

    assert (result.status_code, result.reports, result.inbound) == (200, [], [])


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        json.dumps({"origin": "SMS_MT", "code": "N202"}).encode(),
        json.dumps({"origin": "SMS_MT", "code": "N999", "tracking-id": "x"}).encode(),
        json.dumps({"origin": "SMS_MO", "from": "10000000000"}).encode(),
    ],
)
def test_it_rejects_a_malformed_postback(body):
    with pytest.raises(WebhookRejected):
        backend().parse_webhook(postback(body))


# -- connection check ---------------------------------------------------------


def test_it_proves_the_key_with_an_unknown_action_answered_with_e107(api):
    api.post(ENDPOINT, json=failure("E107", "Invalid action.", to=""))

    description = backend().check_connection()

    assert "accepted the API key" in description
    assert sent(api.calls[0]) == {"action": "connection-check"}
    assert api.calls[0].request.headers["x-api-key"] == KEY


def test_it_reports_a_bad_key_from_the_connection_check(api):
    api.post(ENDPOINT, json=failure("E104", "Invalid API Key.", to=""))

    with pytest.raises(ProviderError) as exc:
        backend().check_connection()

    assert (exc.value.code, exc.value.permanent) == ("E104", True)


# -- over real HTTP -----------------------------------------------------------


def test_it_sends_to_a_fake_provider_over_http():
    handler = fake.handler(api_key=KEY)
    with serve(handler) as base_url:
        provider = SendsmsBackend(
            base_url=base_url + "/API/v2/index.php",
            credentials={"api_key": KEY},
            options={"from_number": "00000", "enforce_campaign_check": True},
        )
        options = SendOptions(campaign_ref="campaign2345", click_tracking=True)
        [result] = provider.send_batch([sms(sender="DunderMiff", ref="9")], options)
        connection = provider.check_connection()

    path, headers, body = handler.received[0]
    assert path == "/API/v2/index.php"
    assert headers["x-api-key"] == KEY
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {
        "action": "sendsms",
        "message-text": "Hello",
        "to": "10000000001",
        "from": "00000",
        "from-mask": "DunderMiff",
        "campaign-ref": "campaign2345",
        "click-tracking": True,
    }
    assert (result.ref, result.status) == ("9", Status.ACCEPTED)
    assert len(result.provider_message_id) == 12
    assert "accepted the API key" in connection
