"""The sendsms backend sending many messages at once (``send_many``), as a
campaign does: one request per message, in flight together, over real
loopback HTTP. The single-request path is in test_sendsms.py; both build the
same request and read the answer the same way."""

from __future__ import annotations

import json

import pytest
import responses

from providers.backends.sendsms import SendsmsBackend
from providers.base import OutboundSms, ProviderError, SendOptions
from providers.status import Status
from tests.providers.fakes import Outage, refused_url, serve
from tests.providers.fakes import sendsms as fake

from .test_sendsms import FIXTURES

KEY = "k-123"
PATH = "/API/v2/index.php"


@pytest.fixture
def provider():
    handler = fake.handler(KEY, blacklisted=("4915112345602",))
    handler.received, handler.sent = [], []
    with serve(handler) as url:
        yield handler, url + PATH


def backend(endpoint, key=KEY, **options):
    return SendsmsBackend(base_url=endpoint, credentials={"api_key": key}, options=options)


def sms(n, sender="4930123456", text="Hello"):
    return OutboundSms(ref=f"r{n}", to=f"+49151123456{n:02d}", text=text, sender=sender)


def test_each_message_goes_in_its_own_request_and_gets_its_own_result(provider):
    handler, endpoint = provider
    batches = [[sms(n)] for n in range(1, 6)]

    results = backend(endpoint).send_many(batches, SendOptions(), connections=3)

    assert [[r.ref for r in result] for result in results] == [
        ["r1"],
        ["r2"],
        ["r3"],
        ["r4"],
        ["r5"],
    ]
    statuses = [result[0].status for result in results]
    # The fake refuses the blacklisted recipient (E114): only that one.
    assert statuses == [
        Status.ACCEPTED,
        Status.REJECTED,
        Status.ACCEPTED,
        Status.ACCEPTED,
        Status.ACCEPTED,
    ]
    assert results[1][0].error_code == "E114"
    taken = {entry["tracking-id"]: entry["to"] for entry in handler.sent}
    for n, result in zip([1, 3, 4, 5], [results[0], results[2], results[3], results[4]]):
        assert taken[result[0].provider_message_id] == f"49151123456{n:02d}"
    assert len(handler.received) == 5


def test_the_request_on_the_wire_is_the_one_a_single_send_makes(provider):
    """The seed's second example, sent both ways."""
    handler, endpoint = provider
    message = OutboundSms(
        ref="1",
        to="+10000000001",
        text="Visit https://www.fakeurl.com/ for more info.",
        sender="Dunder Mifflin",
    )
    options = SendOptions(campaign_ref="campaign2345", click_tracking=True)
    with responses.RequestsMock() as api:
        api.post(endpoint, json=json.loads((FIXTURES / "send_success.json").read_text()))
        backend(endpoint, from_number="00000").send_batch([message], options)
        single = api.calls[0].request

    [[result]] = backend(endpoint, from_number="00000").send_many([[message]], options)

    assert result.status == Status.ACCEPTED
    [(path, headers, body)] = handler.received
    expected = json.loads((FIXTURES / "send_example_2.json").read_text())
    expected["to"] = "10000000001"
    assert json.loads(body) == json.loads(single.body) == expected
    assert path == PATH
    assert headers["x-api-key"] == single.headers["x-api-key"] == KEY
    assert headers["Content-Type"] == single.headers["Content-Type"] == "application/json"


def test_a_refused_key_fails_every_request_permanently_with_the_same_words(provider):
    _, endpoint = provider
    results = backend(endpoint, key="wrong").send_many([[sms(1)], [sms(3)]], SendOptions())
    assert all(isinstance(r, ProviderError) and r.permanent for r in results)
    assert results[0].code == "E104"
    assert results[0].message.startswith("The API key is invalid")


@pytest.mark.parametrize(
    ("outage", "code", "retry_after", "maybe_sent"),
    [
        (Outage(429, retry_after="30"), "429", 30.0, False),
        (Outage(503), "503", None, False),
        # A success status with a body that is not the API's: it may have
        # been taken, so it is never resent blindly.
        (Outage(200, body="<html>proxy</html>"), "bad_json", None, True),
    ],
)
def test_provider_trouble_is_a_transient_error_per_request(
    provider, outage, code, retry_after, maybe_sent
):
    handler, endpoint = provider
    handler.outage = outage
    results = backend(endpoint).send_many([[sms(1)], [sms(3)]], SendOptions(), connections=2)
    for error in results:
        assert isinstance(error, ProviderError)
        assert not error.permanent
        assert (error.code, error.retry_after, error.maybe_sent) == (code, retry_after, maybe_sent)


def test_a_provider_that_cannot_be_reached_got_nothing():
    [error] = backend(refused_url() + PATH).send_many([[sms(1)]], SendOptions())
    assert isinstance(error, ProviderError)
    assert error.message == "Could not connect to sendsms provider."
    assert not error.maybe_sent and not error.permanent


def test_requests_that_cannot_be_made_are_refused_without_calling(provider):
    handler, endpoint = provider
    enforced = backend(endpoint, enforce_campaign_check="1")
    results = enforced.send_many([[sms(1)], [sms(3), sms(4)]], SendOptions())
    assert results[0].code == "campaign_ref"
    assert results[1].code == "batch"
    assert handler.received == []
