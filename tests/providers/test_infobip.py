import copy
import datetime as dt
import json
from decimal import Decimal
from functools import cache
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import requests
import responses
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from providers.backends.infobip import InfobipBackend
from providers.base import (
    DltFields,
    OutboundSms,
    ProviderError,
    SendOptions,
    SendWindow,
    WebhookRejected,
    WebhookRequest,
)
from providers.status import Status
from tests.providers.fakes import serve
from tests.providers.fakes.infobip import make_handler

FIXTURES = Path(__file__).parent / "fixtures" / "infobip"
SPEC = Path(__file__).resolve().parents[3] / "shared" / "providers" / "infobip-sms-openapi.json"
BASE = "https://xyz.api.infobip.com"
SEND_URL = f"{BASE}/sms/2/text/advanced"
HOOK = "https://portal.example.com/hooks/s3cret/"


def load(name):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def raw(name):
    return (FIXTURES / name).read_bytes()


def make_backend(base_url=BASE, credentials=None, options=None, hook=None, **kwargs):
    return InfobipBackend(
        base_url=base_url,
        credentials={"api_key": "test-key"} if credentials is None else credentials,
        options=options or {},
        webhook_url=hook,
        **kwargs,
    )


def sms(ref, to, text="Hello", sender="InfoSMS"):
    return OutboundSms(ref=ref, to=to, text=text, sender=sender)


def echo_response(body):
    """What Infobip answers: every destination PENDING_ACCEPTED, our IDs kept."""
    return {
        "bulkId": body.get("bulkId", "2034072219640523073"),
        "messages": [
            {
                "to": d["to"],
                "status": {
                    "groupId": 1,
                    "groupName": "PENDING",
                    "id": 26,
                    "name": "PENDING_ACCEPTED",
                    "description": "Message sent to next instance",
                },
                "messageId": d["messageId"],
            }
            for m in body["messages"]
            for d in m["destinations"]
        ],
    }


def echo(request):
    return (
        200,
        {"Content-Type": "application/json"},
        json.dumps(echo_response(json.loads(request.body))),
    )


def sent_body(mocked, index=0):
    return json.loads(mocked.calls[index].request.body)


def with_message_ids(seed_body, ids):
    """The seed's request with our refs as messageIds: we always set them."""
    body = copy.deepcopy(seed_body)
    it = iter(ids)
    for message in body["messages"]:
        for destination in message["destinations"]:
            destination["messageId"] = next(it)
    return body


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


# -- the OpenAPI spec --------------------------------------------------------------


@cache
def _spec_document():
    return json.loads(SPEC.read_text(encoding="utf-8"))


def spec():
    if not SPEC.exists():
        # CI has the shared folder beside the checkout; a bare clone elsewhere
        # does not, and cannot check bodies against the spec.
        pytest.skip("Infobip's OpenAPI spec is not in ../shared/providers beside the checkout")
    return _spec_document()


def _closed(node):
    """The spec with unknown properties forbidden, so a misspelt field in a
    body we build fails validation instead of passing unnoticed."""
    if isinstance(node, dict):
        out = {k: _closed(v) for k, v in node.items()}
        if (
            out.get("type") == "object"
            and "properties" in out
            and "additionalProperties" not in out
            and not {"allOf", "anyOf", "oneOf"} & out.keys()
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_closed(v) for v in node]
    return node


@cache
def validator(schema_name, closed=False):
    document = _closed(spec()) if closed else spec()
    registry = Registry().with_resource(
        "urn:infobip-sms", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    schemas = document["components"]["schemas"]
    # Names carry a hash prefix; a bare name, where it exists, is the shared one.
    if schema_name in schemas:
        name = schema_name
    else:
        (name,) = [k for k in schemas if k.endswith("." + schema_name)]
    return Draft202012Validator(
        {"$ref": f"urn:infobip-sms#/components/schemas/{name}"}, registry=registry
    )


def assert_valid(instance, schema_name, closed=False):
    errors = [
        f"{e.json_path}: {e.message}" for e in validator(schema_name, closed).iter_errors(instance)
    ]
    assert errors == []


# -- sending: the seeds' own requests ----------------------------------------------


def test_it_sends_the_basic_seed_request(mocked):
    mocked.post(SEND_URL, json=load("send_multiple_destinations_response.json"))
    make_backend().send_batch([sms("1", "+41793026727", "This is a sample message")], SendOptions())
    assert sent_body(mocked) == with_message_ids(load("send_basic_request.json"), ["1"])


def test_it_sends_the_notify_url_seed_request_field_for_field(mocked):
    mocked.add_callback(responses.POST, SEND_URL, callback=echo)
    text = "Check out our newest collection available NOW in your local store."
    backend = make_backend(hook=lambda event: "http://www.example.com/sms/campaigns" + event)
    results = backend.send_batch(
        [
            sms("silver-loyalty-program", "+41793026727", text, "SomeStore"),
            sms("golden-loyalty-program", "+41793026731", text, "SomeStore"),
        ],
        SendOptions(
            bulk_id="june-campaign",
            callback_data="For example, this field can store tracking ID for analytics",
        ),
    )
    assert sent_body(mocked) == load("send_notify_url_request.json")
    assert [(r.ref, r.provider_message_id, r.status) for r in results] == [
        ("silver-loyalty-program", "silver-loyalty-program", Status.ACCEPTED),
        ("golden-loyalty-program", "golden-loyalty-program", Status.ACCEPTED),
    ]


def test_it_sends_many_destinations_in_one_request(mocked):
    mocked.add_callback(responses.POST, SEND_URL, callback=echo)
    text = "Wine shop grand opening at Monday 8pm. Don't forget your wine glass!"
    results = make_backend().send_batch(
        [sms("1", "+41793026727", text, "WineShop"), sms("2", "+41793026727", text, "WineShop")],
        SendOptions(),
    )
    assert len(mocked.calls) == 1
    expected = with_message_ids(load("send_multiple_destinations_request.json"), ["1", "2"])
    assert sent_body(mocked) == expected
    assert {r.ref: r.provider_message_id for r in results} == {"1": "1", "2": "2"}


def test_it_sends_one_message_per_distinct_text(mocked):
    mocked.add_callback(responses.POST, SEND_URL, callback=echo)
    seed = load("send_multiple_texts_request.json")
    batch = [
        sms(str(i), "+" + m["destinations"][0]["to"], m["text"], m["from"])
        for i, m in enumerate(seed["messages"], start=1)
    ]
    make_backend().send_batch(batch, SendOptions())
    assert sent_body(mocked) == with_message_ids(seed, ["1", "2"])


def test_it_reproduces_the_fully_featured_seed_request(mocked):
    mocked.add_callback(responses.POST, SEND_URL, callback=echo)
    seed = load("send_fully_featured_request.json")
    first, second = seed["messages"]
    backend = make_backend(
        options={"conversion_tracking": True, "tracking_type": "MY_CAMPAIGN"},
        hook=lambda event: "https://www.example.com/sms/advanced" + event,
    )
    backend.send_batch(
        [
            sms("MESSAGE-ID-123-xyz", "+41793026727", first["text"]),
            sms("MESSAGE-ID-124-xyz", "+41793026731", first["text"]),
        ],
        SendOptions(
            bulk_id="BULK-ID-123-xyz",
            flash=False,
            language_code="TR",
            transliteration="TURKISH",
            intermediate_report=True,
            callback_data="DLR callback data",
            validity_minutes=720,
        ),
    )
    # "flash": false is the documented default; we leave defaults out.
    expected_first = with_message_ids(
        {"messages": [first]}, ["MESSAGE-ID-123-xyz", "MESSAGE-ID-124-xyz"]
    )
    del expected_first["messages"][0]["flash"]
    assert sent_body(mocked) == {
        "bulkId": "BULK-ID-123-xyz",
        "messages": expected_first["messages"],
        "tracking": {"track": "SMS", "type": "MY_CAMPAIGN"},
    }

    scheduler = make_backend()
    scheduler.now = lambda: dt.datetime(2015, 7, 1, tzinfo=dt.UTC)
    plus_one = dt.timezone(dt.timedelta(hours=1))
    scheduler.send_batch(
        [sms("3", "+41793026785", second["text"], "41793026700")],
        SendOptions(
            send_at=dt.datetime(2015, 7, 7, 17, 0, tzinfo=plus_one),
            window=SendWindow(days=tuple(range(7)), start=dt.time(6, 0), end=dt.time(15, 30)),
        ),
    )
    message = sent_body(mocked, 1)["messages"][0]
    # The seed writes the offset as +01:00, the documented pattern
    # (yyyy-MM-dd'T'HH:mm:ss.SSSZ) as +0100: the same instant.
    assert message.pop("sendAt") == "2015-07-07T17:00:00.000+0100"
    expected_second = with_message_ids({"messages": [second]}, ["3"])["messages"][0]
    assert dt.datetime.fromisoformat(expected_second.pop("sendAt")) == dt.datetime(
        2015, 7, 7, 16, 0, tzinfo=dt.UTC
    )
    assert message == expected_second


def test_it_reads_the_fully_featured_seed_response(mocked):
    mocked.post(SEND_URL, json=load("send_fully_featured_response.json"))
    results = make_backend().send_batch(
        [
            sms("MESSAGE-ID-123-xyz", "+41793026727"),
            sms("r2", "+41793026731"),
            sms("r3", "+41793026785", "Other"),
        ],
        SendOptions(),
    )
    # Infobip kept our first ID and made up the others: matched by number.
    assert [(r.ref, r.provider_message_id, r.status) for r in results] == [
        ("MESSAGE-ID-123-xyz", "MESSAGE-ID-123-xyz", Status.ACCEPTED),
        ("r2", "2033912860760522207", Status.ACCEPTED),
        ("r3", "2033912860760522208", Status.ACCEPTED),
    ]
    assert results[0].segments == 1


def test_it_reads_the_multiple_destinations_seed_response(mocked):
    mocked.post(SEND_URL, json=load("send_multiple_destinations_response.json"))
    results = make_backend().send_batch(
        [sms("1", "+41793026727"), sms("2", "+41793026834"), sms("3", "+41000000000")],
        SendOptions(),
    )
    assert [(r.ref, r.provider_message_id, r.status) for r in results] == [
        ("1", "2034070510160109026", Status.ACCEPTED),
        ("2", "2034070510250109027", Status.ACCEPTED),
        ("3", "3", Status.UNKNOWN),
    ]


def test_it_takes_the_part_count_from_the_response(mocked):
    mocked.post(SEND_URL, json=load("send_query_response.json"))
    (result,) = make_backend().send_batch([sms("1", "+41793026727", "x" * 200)], SendOptions())
    assert result.segments == 1  # smsCount in the answer wins over our own count


def test_it_maps_a_rejected_destination_at_submit(mocked):
    answer = {
        "bulkId": "b",
        "messages": [
            {
                "to": "41793026727",
                "messageId": "1",
                "status": {
                    "groupId": 5,
                    "groupName": "REJECTED",
                    "id": 12,
                    "name": "REJECTED_NOT_ENOUGH_CREDITS",
                    "description": "Not enough credits",
                },
            }
        ],
    }
    mocked.post(SEND_URL, json=answer)
    (result,) = make_backend().send_batch([sms("1", "+41793026727")], SendOptions())
    assert (result.status, result.error_code, result.error_description) == (
        Status.REJECTED,
        "REJECTED_NOT_ENOUGH_CREDITS",
        "Not enough credits",
    )


# -- sending: every option -----------------------------------------------------------

EVERYTHING = SendOptions(
    flash=True,
    validity_minutes=5000,
    transliteration="GREEK",
    language_code="TR",
    click_tracking=False,
    campaign_ref="summersale",
    callback_data="campaign-7",
    intermediate_report=True,
    bulk_id="campaign-7-batch-1",
    send_at=dt.datetime(2030, 1, 2, 9, 30, 15, 250000, tzinfo=dt.UTC),
    window=SendWindow(days=(0, 2, 4), start=dt.time(8, 0), end=dt.time(20, 15)),
    dlt=DltFields("1111111111111111111", "1111111111111111112", "111111111111"),
)


def fixed_now(backend):
    backend.now = lambda: dt.datetime(2029, 12, 1, tzinfo=dt.UTC)
    return backend


def test_it_sends_every_documented_field(mocked):
    mocked.add_callback(responses.POST, SEND_URL, callback=echo)
    backend = fixed_now(
        make_backend(options={"notify_content_type": "application/xml"}, hook=lambda e: HOOK + e)
    )
    backend.send_batch(
        [sms("1", "+41793026727", "Hi"), sms("2", "+41793026731", "Hi"), sms("3", "+4179", "Yo")],
        EVERYTHING,
    )
    body = sent_body(mocked)
    shared = {
        "flash": True,
        "language": {"languageCode": "TR"},
        "transliteration": "GREEK",
        "intermediateReport": True,
        "notifyUrl": HOOK,
        "notifyContentType": "application/xml",
        "callbackData": "campaign-7",
        "validityPeriod": 2880,
        "sendAt": "2030-01-02T09:30:15.250+0000",
        "deliveryTimeWindow": {
            "from": {"hour": 8, "minute": 0},
            "to": {"hour": 20, "minute": 15},
            "days": ["MONDAY", "WEDNESDAY", "FRIDAY"],
        },
        "campaignReferenceId": "summersale",
        "regional": {
            "indiaDlt": {
                "contentTemplateId": "1111111111111111111",
                "principalEntityId": "1111111111111111112",
                "telemarketerId": "111111111111",
            }
        },
    }
    assert body == {
        "bulkId": "campaign-7-batch-1",
        "messages": [
            {
                "from": "InfoSMS",
                "destinations": [
                    {"to": "41793026727", "messageId": "1"},
                    {"to": "41793026731", "messageId": "2"},
                ],
                "text": "Hi",
                **shared,
            },
            {
                "from": "InfoSMS",
                "destinations": [{"to": "4179", "messageId": "3"}],
                "text": "Yo",
                **shared,
            },
        ],
    }


@pytest.mark.parametrize(
    ("options", "account"),
    [
        (SendOptions(), {}),
        (EVERYTHING, {"conversion_tracking": "true"}),
        (SendOptions(click_tracking=True, campaign_ref="summersale"), {}),
        (SendOptions(click_tracking=True), {"click_tracking_style": "url_options"}),
        (SendOptions(window=SendWindow(days=(5, 6), start=dt.time(0), end=dt.time(0))), {}),
        (SendOptions(dlt=DltFields("123")), {"dlt_principal_entity_id": "456"}),
    ],
)
def test_its_request_bodies_match_the_openapi_spec(mocked, options, account):
    mocked.add_callback(responses.POST, SEND_URL, callback=echo)
    backend = fixed_now(make_backend(options=account, hook=lambda e: HOOK + e))
    backend.send_batch([sms("1", "+41793026727"), sms("2", "+41793026731", "B")], options)
    assert_valid(sent_body(mocked), "SMSAdvancedTextualRequest", closed=True)


def test_the_seed_requests_match_the_openapi_spec():
    for name in (
        "send_basic_request.json",
        "send_notify_url_request.json",
        "send_multiple_destinations_request.json",
        "send_multiple_texts_request.json",
        "send_fully_featured_request.json",
    ):
        assert_valid(load(name), "SMSAdvancedTextualRequest", closed=True)


def test_the_closed_schema_catches_a_misspelt_field():
    body = load("send_basic_request.json")
    body["messages"][0]["notifyContentTyp"] = "application/json"
    assert list(validator("SMSAdvancedTextualRequest", True).iter_errors(body))


def test_it_sends_click_tracking_in_the_documented_tracking_object(mocked):
    mocked.add_callback(responses.POST, SEND_URL, callback=echo)
    make_backend().send_batch(
        [sms("1", "+41793026727")], SendOptions(click_tracking=True, campaign_ref="spring")
    )
    body = sent_body(mocked)
    assert body["tracking"] == {"track": "URL", "type": "spring"}
    assert body["messages"][0]["campaignReferenceId"] == "spring"


def test_it_can_send_click_tracking_as_url_options(mocked):
    mocked.add_callback(responses.POST, SEND_URL, callback=echo)
    backend = make_backend(options={"click_tracking_style": "url_options"})
    backend.send_batch([sms("1", "+41793026727")], SendOptions(click_tracking=True))
    body = sent_body(mocked)
    assert body["urlOptions"] == {"shortenUrl": True, "trackClicks": True}
    assert "tracking" not in body


def test_it_sends_whole_days_when_the_window_has_no_hours(mocked):
    mocked.add_callback(responses.POST, SEND_URL, callback=echo)
    window = SendWindow(days=(6, 5, 5), start=dt.time(0), end=dt.time(0))
    make_backend().send_batch([sms("1", "+41793026727")], SendOptions(window=window))
    assert sent_body(mocked)["messages"][0]["deliveryTimeWindow"] == {
        "days": ["SATURDAY", "SUNDAY"]
    }


def test_it_leaves_out_a_send_time_already_passed(mocked):
    mocked.add_callback(responses.POST, SEND_URL, callback=echo)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    make_backend().send_batch([sms("1", "+41793026727")], SendOptions(send_at=past))
    assert "sendAt" not in sent_body(mocked)["messages"][0]


def test_it_treats_a_naive_send_time_as_utc(mocked):
    mocked.add_callback(responses.POST, SEND_URL, callback=echo)
    backend = fixed_now(make_backend())
    backend.send_batch([sms("1", "+41793026727")], SendOptions(send_at=dt.datetime(2030, 1, 1, 12)))
    assert sent_body(mocked)["messages"][0]["sendAt"] == "2030-01-01T12:00:00.000+0000"


def test_it_refuses_a_schedule_beyond_180_days(mocked):
    backend = fixed_now(make_backend())
    with pytest.raises(ProviderError) as exc:
        backend.send_batch(
            [sms("1", "+41793026727")],
            SendOptions(send_at=dt.datetime(2030, 12, 1, tzinfo=dt.UTC)),
        )
    assert exc.value.permanent and "180 days" in exc.value.message
    assert len(mocked.calls) == 0


def test_it_refuses_callback_data_over_200_characters(mocked):
    with pytest.raises(ProviderError) as exc:
        make_backend().send_batch([sms("1", "+41793026727")], SendOptions(callback_data="x" * 201))
    assert exc.value.permanent and "200" in exc.value.message
    assert len(mocked.calls) == 0


def test_it_takes_the_dlt_entity_from_the_account(mocked):
    mocked.add_callback(responses.POST, SEND_URL, callback=echo)
    backend = make_backend(
        options={"dlt_principal_entity_id": "PE-1", "dlt_telemarketer_id": "TM-1"}
    )
    backend.send_batch([sms("1", "+919876543210")], SendOptions(dlt=DltFields("T-1")))
    assert sent_body(mocked)["messages"][0]["regional"] == {
        "indiaDlt": {
            "contentTemplateId": "T-1",
            "principalEntityId": "PE-1",
            "telemarketerId": "TM-1",
        }
    }


def test_it_refuses_dlt_without_a_principal_entity(mocked):
    with pytest.raises(ProviderError) as exc:
        make_backend().send_batch([sms("1", "+919876543210")], SendOptions(dlt=DltFields("T-1")))
    assert exc.value.permanent and "principal entity" in exc.value.message


def test_it_sends_a_numeric_sender_without_the_plus(mocked):
    mocked.add_callback(responses.POST, SEND_URL, callback=echo)
    make_backend().send_batch([sms("1", "+41793026727", sender="+41793026700")], SendOptions())
    assert sent_body(mocked)["messages"][0]["from"] == "41793026700"


def test_the_batch_size_is_an_account_option(mocked):
    assert make_backend().capabilities.max_recipients_per_request == 1000
    backend = make_backend(options={"max_destinations": "2"})
    assert backend.capabilities.max_recipients_per_request == 2
    assert backend.capabilities.distinct_texts_per_request
    with pytest.raises(ProviderError) as exc:
        backend.send_batch([sms(str(i), "+4179302672" + str(i)) for i in range(3)], SendOptions())
    assert exc.value.permanent
    assert len(mocked.calls) == 0


def test_it_declares_what_infobip_can_do():
    caps = InfobipBackend.capabilities
    assert caps.native_scheduling and caps.native_window and caps.push_reports
    assert caps.polling and caps.cancel and caps.dlt and caps.inbound
    assert caps.preview and caps.conversion_tracking
    assert not caps.provider_side_lists
    names = {f.name for f in InfobipBackend.credential_fields}
    assert names == {"api_key", "username", "password", "token", "client_id", "client_secret"}
    # Each credential is required only for the authentication it belongs to.
    belongs = {f.name: f.only_when for f in InfobipBackend.credential_fields}
    assert belongs == {
        "api_key": ("auth_type", ("app_key",)),
        "username": ("auth_type", ("basic",)),
        "password": ("auth_type", ("basic",)),
        "token": ("auth_type", ("bearer", "ibsso")),
        "client_id": ("auth_type", ("oauth2",)),
        "client_secret": ("auth_type", ("oauth2",)),
    }


# -- authentication ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth_type", "credentials", "header"),
    [
        (None, {"api_key": "abc-123"}, "App abc-123"),
        ("app_key", {"api_key": "abc-123"}, "App abc-123"),
        # The seed's own header: "Aladdin" / "open sesame".
        (
            "basic",
            {"username": "Aladdin", "password": "open sesame"},
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        ),
        ("bearer", {"token": "eyJhbGciOi"}, "Bearer eyJhbGciOi"),
        ("ibsso", {"token": "2f9b4d31-2d0d"}, "IBSSO 2f9b4d31-2d0d"),
    ],
)
def test_it_authenticates_every_documented_way(mocked, auth_type, credentials, header):
    mocked.add_callback(responses.POST, SEND_URL, callback=echo)
    options = {"auth_type": auth_type} if auth_type else {}
    make_backend(credentials=credentials, options=options).send_batch(
        [sms("1", "+41793026727")], SendOptions()
    )
    sent = mocked.calls[0].request.headers
    assert sent["Authorization"] == header
    assert sent["Content-Type"] == "application/json"
    assert sent["Accept"] == "application/json"


@pytest.mark.parametrize(
    ("options", "credentials"),
    [
        ({}, {}),
        ({"auth_type": "basic"}, {"username": "u"}),
        ({"auth_type": "bearer"}, {"api_key": "k"}),
        ({"auth_type": "oauth-ish"}, {"api_key": "k"}),
    ],
)
def test_it_refuses_incomplete_credentials_before_calling(mocked, options, credentials):
    with pytest.raises(ProviderError) as exc:
        make_backend(credentials=credentials, options=options).check_connection()
    assert exc.value.permanent
    assert len(mocked.calls) == 0


# -- OAuth 2.0 client credentials ------------------------------------------------------

TOKEN_URL = f"{BASE}/auth/1/oauth2/token"
OAUTH = {"client_id": "portal-client", "client_secret": "s3cret"}


@pytest.fixture
def oauth2(monkeypatch):
    """An OAuth2 account, with this process's token store empty and a clock
    the test moves."""
    from providers.backends.infobip import auth

    monkeypatch.setattr(auth, "_tokens", {})
    clock = [1000.0]
    monkeypatch.setattr(auth.time, "monotonic", lambda: clock[0])
    backend = make_backend(credentials=OAUTH, options={"auth_type": "oauth2"})
    return backend, clock


def token_answer(token, expires_in=3600):
    return {"access_token": token, "expires_in": expires_in}


def test_oauth2_fetches_a_token_with_the_client_credentials_grant(mocked, oauth2):
    backend, _ = oauth2
    mocked.post(TOKEN_URL, json=token_answer("tok-1"))
    mocked.add_callback(responses.POST, SEND_URL, callback=echo)
    backend.send_batch([sms("1", "+41793026727")], SendOptions())
    token_call, send_call = mocked.calls
    form = dict(parse_qsl(token_call.request.body))
    assert form == {
        "client_id": "portal-client",
        "client_secret": "s3cret",
        "grant_type": "client_credentials",
    }
    assert token_call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert send_call.request.headers["Authorization"] == "Bearer tok-1"


def test_oauth2_keeps_the_token_until_shortly_before_it_expires(mocked, oauth2):
    backend, clock = oauth2
    mocked.post(TOKEN_URL, json=token_answer("tok-1", expires_in=600))
    mocked.post(TOKEN_URL, json=token_answer("tok-2", expires_in=600))
    mocked.add_callback(responses.POST, SEND_URL, callback=echo)
    for _ in range(3):
        backend.send_batch([sms("1", "+41793026727")], SendOptions())
    clock[0] += 600 - 30  # within the last minute of its life
    make_backend(credentials=OAUTH, options={"auth_type": "oauth2"}).send_batch(
        [sms("2", "+41793026727")], SendOptions()
    )
    urls = [call.request.url for call in mocked.calls]
    assert urls.count(TOKEN_URL) == 2
    sends = [c.request.headers["Authorization"] for c in mocked.calls if c.request.url == SEND_URL]
    assert sends == ["Bearer tok-1"] * 3 + ["Bearer tok-2"]


def test_oauth2_fetches_a_new_token_once_when_one_is_refused(mocked, oauth2):
    backend, _ = oauth2
    mocked.post(TOKEN_URL, json=token_answer("revoked"))
    mocked.post(TOKEN_URL, json=token_answer("fresh"))
    mocked.post(SEND_URL, json=load("error_unauthorized.json"), status=401)
    mocked.add_callback(responses.POST, SEND_URL, callback=echo)
    results = backend.send_batch([sms("1", "+41793026727")], SendOptions())
    assert results[0].status == Status.ACCEPTED
    sends = [c.request.headers["Authorization"] for c in mocked.calls if c.request.url == SEND_URL]
    assert sends == ["Bearer revoked", "Bearer fresh"]


@pytest.mark.parametrize(
    ("status", "body", "says"),
    [
        (400, {"error": "invalid_client", "error_description": "Bad client"}, "Bad client"),
        (401, {"error": "invalid_client"}, "refused our credentials"),
    ],
)
def test_oauth2_refused_client_credentials_are_a_permanent_clear_error(
    mocked, oauth2, status, body, says
):
    backend, _ = oauth2
    mocked.post(TOKEN_URL, json=body, status=status)
    with pytest.raises(ProviderError) as exc:
        backend.send_batch([sms("1", "+41793026727")], SendOptions())
    assert exc.value.permanent
    assert "OAuth2 client credentials" in exc.value.message and says in exc.value.message
    assert [c.request.url for c in mocked.calls] == [TOKEN_URL]


def test_oauth2_needs_its_client_id_and_secret_before_calling(mocked, oauth2):
    with pytest.raises(ProviderError) as exc:
        make_backend(
            credentials={"client_id": "x"}, options={"auth_type": "oauth2"}
        ).check_connection()
    assert exc.value.permanent and "client secret" in exc.value.message
    assert len(mocked.calls) == 0


# -- errors ---------------------------------------------------------------------------


def test_it_reports_a_bad_request_as_permanent(mocked):
    mocked.post(SEND_URL, json=load("error_bad_request.json"), status=400)
    with pytest.raises(ProviderError) as exc:
        make_backend().send_batch([sms("1", "+41793026727")], SendOptions())
    assert exc.value.permanent
    assert exc.value.code == "BAD_REQUEST"
    assert "Bad request" in exc.value.message


def test_it_names_the_fields_of_a_validation_error(mocked):
    mocked.post(SEND_URL, json=load("error_validation.json"), status=400)
    with pytest.raises(ProviderError) as exc:
        make_backend().send_batch([sms("1", "+41793026727")], SendOptions())
    assert exc.value.permanent
    assert "messages[0].destinations[0].to: size must be between 0 and 64" in exc.value.message


def test_the_error_fixtures_match_the_openapi_spec():
    for name in (
        "error_bad_request.json",
        "error_validation.json",
        "error_unauthorized.json",
        "error_too_many_requests.json",
        "error_not_found.json",
        "error_general.json",
    ):
        assert_valid(load(name), "ApiException")


def test_it_reports_bad_credentials_as_permanent(mocked):
    mocked.post(SEND_URL, json=load("error_unauthorized.json"), status=401)
    with pytest.raises(ProviderError) as exc:
        make_backend().send_batch([sms("1", "+41793026727")], SendOptions())
    assert exc.value.permanent
    assert exc.value.code == "401"
    assert "Unauthorized" in exc.value.message


def test_it_retries_when_rate_limited(mocked):
    mocked.post(
        SEND_URL,
        json=load("error_too_many_requests.json"),
        status=429,
        headers={"Retry-After": "7"},
    )
    with pytest.raises(ProviderError) as exc:
        make_backend().send_batch([sms("1", "+41793026727")], SendOptions())
    assert not exc.value.permanent
    assert exc.value.retry_after == 7
    assert "Too many requests" in exc.value.message


def test_it_retries_a_too_many_requests_error_in_a_4xx_body(mocked):
    mocked.post(SEND_URL, json=load("error_too_many_requests.json"), status=400)
    with pytest.raises(ProviderError) as exc:
        make_backend().send_batch([sms("1", "+41793026727")], SendOptions())
    assert not exc.value.permanent
    assert exc.value.code == "TOO_MANY_REQUESTS"


def test_it_retries_a_server_error(mocked):
    mocked.post(SEND_URL, json=load("error_general.json"), status=500)
    with pytest.raises(ProviderError) as exc:
        make_backend().send_batch([sms("1", "+41793026727")], SendOptions())
    assert not exc.value.permanent
    assert exc.value.code == "500"


def test_it_retries_a_timeout(mocked):
    mocked.post(SEND_URL, body=requests.Timeout("slow"))
    with pytest.raises(ProviderError) as exc:
        make_backend().send_batch([sms("1", "+41793026727")], SendOptions())
    assert not exc.value.permanent
    assert exc.value.code == "timeout"
    assert exc.value.maybe_sent


def test_it_retries_a_malformed_answer(mocked):
    mocked.post(SEND_URL, body="<html>502 Bad Gateway</html>", status=200)
    with pytest.raises(ProviderError) as exc:
        make_backend().send_batch([sms("1", "+41793026727")], SendOptions())
    assert not exc.value.permanent
    assert exc.value.code == "bad_json"
    assert exc.value.maybe_sent


def test_it_does_not_resend_after_an_answer_without_messages(mocked):
    mocked.post(SEND_URL, json={"bulkId": "b"})
    with pytest.raises(ProviderError) as exc:
        make_backend().send_batch([sms("1", "+41793026727")], SendOptions())
    assert exc.value.maybe_sent and not exc.value.permanent


def test_it_reads_an_error_envelope_sent_with_200(mocked):
    mocked.post(SEND_URL, json=load("error_bad_request.json"), status=200)
    with pytest.raises(ProviderError) as exc:
        make_backend().send_batch([sms("1", "+41793026727")], SendOptions())
    assert exc.value.permanent and exc.value.code == "BAD_REQUEST"


# -- status mapping ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group_id", "status_id", "expected"),
    [
        (1, 26, Status.ACCEPTED),
        (1, 7, Status.ACCEPTED),
        (2, 9, Status.UNDELIVERED),
        (3, 2, Status.ACCEPTED),
        (3, 5, Status.DELIVERED),
        (4, 15, Status.EXPIRED),
        (5, 12, Status.REJECTED),
    ],
)
def test_it_maps_status_groups(group_id, status_id, expected):
    from providers.backends.infobip import map_status

    assert map_status({"groupId": group_id, "id": status_id}, None)[0] == expected
    # XML carries numbers as text.
    assert map_status({"groupId": str(group_id), "id": str(status_id)}, None)[0] == expected


# -- delivery reports and inbound --------------------------------------------------------


def hook(name, content_type=None, event=""):
    if content_type is None:
        content_type = "application/xml" if name.endswith(".xml") else "application/json"
    return WebhookRequest(method="POST", content_type=content_type, body=raw(name), event=event)


@pytest.mark.parametrize("name", ["delivery_reports.json", "delivery_reports.xml"])
def test_it_reads_pushed_delivery_reports(name):
    result = make_backend().parse_webhook(hook(name))
    assert result.inbound == []
    first, second = result.reports
    assert first.provider_message_id == first.ref == "MESSAGE-ID-123-xyz"
    assert first.status == Status.DELIVERED
    assert (first.cost, first.currency) == (Decimal("0.01"), "EUR")
    assert first.segments == 1
    assert first.sent_at == dt.datetime(2019, 11, 9, 16, 0, tzinfo=dt.UTC)
    assert first.done_at == dt.datetime(2019, 11, 9, 16, 0, tzinfo=dt.UTC)
    assert (first.error_code, first.error_description) == ("", "")
    assert second.provider_message_id == "12db39c3-7822-4e72-a3ec-c87442c0ffc5"
    assert result.status_code == 200


def test_it_reads_json_and_xml_reports_alike():
    backend = make_backend()
    as_json = backend.parse_webhook(hook("delivery_reports.json")).reports
    as_xml = backend.parse_webhook(hook("delivery_reports.xml")).reports
    strip = [{k: v for k, v in r.__dict__.items() if k != "raw"} for r in as_json]
    assert strip == [{k: v for k, v in r.__dict__.items() if k != "raw"} for r in as_xml]


@pytest.mark.parametrize("name", ["delivery_reports_v3.json", "delivery_reports_v3.xml"])
def test_it_reads_the_newer_report_shape(name):
    first, _ = make_backend().parse_webhook(hook(name)).reports
    assert first.status == Status.DELIVERED
    assert first.segments == 1
    assert first.sent_at == dt.datetime(2019, 11, 9, 15, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("name", "count_field"),
    [("delivery_reports.json", "smsCount"), ("delivery_reports_v3.json", "messageCount")],
)
def test_a_report_costs_the_price_of_one_sms_times_its_parts(name, count_field):
    # The spec's example, for a message of three parts: "pricePerMessage" is
    # the "Price per one SMS".
    payload = load(name)
    payload["results"][0][count_field] = 3
    body = json.dumps(payload).encode()
    request = WebhookRequest(method="POST", content_type="application/json", body=body)

    first, second = make_backend().parse_webhook(request).reports

    assert (first.segments, first.cost, first.currency) == (3, Decimal("0.03"), "EUR")
    assert (second.segments, second.cost) == (1, Decimal("0.01"))


def test_a_price_without_a_part_count_is_no_cost():
    payload = load("delivery_reports.json")
    del payload["results"][0]["smsCount"]
    body = json.dumps(payload).encode()
    request = WebhookRequest(method="POST", content_type="application/json", body=body)

    first, _ = make_backend().parse_webhook(request).reports

    # What was charged is unknown: the rate card stands in, the price stays
    # in the history.
    assert first.cost is None
    assert first.raw["price"] == {"pricePerMessage": 0.01, "currency": "EUR"}


def test_it_maps_every_outcome_in_a_push():
    reports = make_backend().parse_webhook(hook("delivery_reports_mixed.json")).reports
    got = [(r.ref, r.status, r.error_code, r.cost, r.segments) for r in reports]
    assert got == [
        ("101", Status.ACCEPTED, "", Decimal("0.0"), 1),
        ("102", Status.UNDELIVERED, "EC_ABSENT_SUBSCRIBER", Decimal("0.02"), 2),
        ("103", Status.EXPIRED, "EXPIRED_EXPIRED", None, 1),
        ("104", Status.REJECTED, "REJECTED_NOT_ENOUGH_CREDITS", None, 1),
        ("105", Status.ACCEPTED, "", None, 1),
    ]
    assert reports[1].error_description == "Absent Subscriber"
    assert reports[4].done_at is None


def test_the_report_fixtures_match_the_openapi_spec():
    assert_valid(load("delivery_reports.json"), "SMSReportResponse")
    assert_valid(load("delivery_reports_mixed.json"), "SMSReportResponse")
    assert_valid(load("delivery_reports_v3.json"), "DeliveryReports")
    assert_valid(load("inbound.json"), "SmsMoReportResponse")
    assert_valid(load("logs.json"), "LogsResponse")
    assert_valid(load("send_fully_featured_response.json"), "SMSResponse")
    assert_valid(load("send_multiple_destinations_response.json"), "SMSResponse")
    assert_valid(load("preview_response.json"), "PreviewResponse")


@pytest.mark.parametrize(
    ("name", "event"), [("inbound.json", ""), ("inbound.xml", ""), ("inbound.json", "inbound")]
)
def test_it_reads_inbound_messages(name, event):
    result = make_backend().parse_webhook(hook(name, event=event))
    assert result.reports == []
    (inbound,) = result.inbound
    assert inbound.provider_message_id == "817790313235066447"
    assert inbound.sender == "+385916242493"
    assert inbound.recipient == "385921004026"
    assert inbound.text == "QUIZ Correct answer is Paris"
    assert inbound.keyword == "QUIZ"
    assert inbound.received_at == dt.datetime(2019, 11, 9, 16, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b""),
        ("application/json", b"{not json"),
        ("application/json", b"[]"),
        ("application/json", b'{"results": {}}'),
        ("application/json", b'{"results": ["x"]}'),
        ("application/json", b'{"results": [{"status": {"groupId": 3}}]}'),
        ("application/json", b'{"reports": []}'),
        ("application/xml", b"<reportResponse><results><result>"),
        (
            "application/xml",
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><r><results/></r>',
        ),
        ("text/plain", b"<oops/>"),
    ],
)
def test_it_rejects_malformed_callbacks(content_type, body):
    with pytest.raises(WebhookRejected):
        make_backend().parse_webhook(
            WebhookRequest(method="POST", content_type=content_type, body=body)
        )


def test_an_inbound_push_without_a_sender_is_rejected():
    body = json.dumps({"results": [{"messageId": "1", "text": "hi"}]}).encode()
    with pytest.raises(WebhookRejected):
        make_backend().parse_webhook(
            WebhookRequest(method="POST", content_type="application/json", body=body)
        )


# -- pulling, logs, cancel --------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_remembered_fallbacks():
    """Which accounts answered 404 to v3 is remembered per process; each
    test starts without."""
    from providers.backends.infobip import reports

    reports._older_only.clear()
    yield
    reports._older_only.clear()


def test_it_pulls_delivery_reports(mocked):
    mocked.get(f"{BASE}/sms/3/reports", json=load("delivery_reports_v3.json"))
    reports = make_backend().pull_reports()
    assert [r.provider_message_id for r in reports] == [
        "MESSAGE-ID-123-xyz",
        "12db39c3-7822-4e72-a3ec-c87442c0ffc5",
    ]
    assert [(r.status, r.segments, r.cost) for r in reports] == [
        (Status.DELIVERED, 1, Decimal("0.01"))
    ] * 2
    assert mocked.calls[0].request.params == {"limit": "1000"}
    assert len(mocked.calls) == 1


def test_it_pulls_the_older_reports_only_where_v3_answers_404(mocked):
    mocked.get(f"{BASE}/sms/3/reports", json=load("error_not_found.json"), status=404)
    mocked.get(f"{BASE}/sms/1/reports", json=load("delivery_reports.json"))

    first = make_backend().pull_reports()
    again = make_backend().pull_reports()

    assert [r.provider_message_id for r in first] == [
        "MESSAGE-ID-123-xyz",
        "12db39c3-7822-4e72-a3ec-c87442c0ffc5",
    ]
    assert len(again) == 2
    # v3 is asked once; having answered 404, the account's v1 is asked directly.
    paths = [c.request.path_url.split("?")[0] for c in mocked.calls]
    assert paths == ["/sms/3/reports", "/sms/1/reports", "/sms/1/reports"]


@pytest.mark.parametrize(
    ("name", "status"), [("error_unauthorized.json", 401), ("error_bad_request.json", 400)]
)
def test_an_error_from_v3_other_than_404_is_not_a_reason_to_use_v1(mocked, name, status):
    mocked.get(f"{BASE}/sms/3/logs", json=load(name), status=status)

    with pytest.raises(ProviderError):
        make_backend().find_by_ref(["MESSAGE-ID-123-xyz"])

    assert [c.request.path_url.split("?")[0] for c in mocked.calls] == ["/sms/3/logs"]


def test_it_pulls_inbound_messages(mocked):
    mocked.get(f"{BASE}/sms/1/inbox/reports", json=load("inbound.json"))
    (inbound,) = make_backend().pull_inbound()
    assert inbound.keyword == "QUIZ"
    assert mocked.calls[0].request.params == {"limit": "1000"}


def test_it_finds_messages_by_our_reference_in_the_current_logs(mocked):
    mocked.get(f"{BASE}/sms/3/logs", json=load("logs_v3.json"))
    refs = ["MESSAGE-ID-123-xyz", "12db39c3-7822-4e72-a3ec-c87442c0ffc5"]
    reports = make_backend().find_by_ref(refs)
    assert mocked.calls[0].request.params == {"messageId": ",".join(refs), "limit": "1000"}
    assert [(r.ref, r.status, r.cost, r.segments) for r in reports] == [
        ("MESSAGE-ID-123-xyz", Status.DELIVERED, Decimal("0.01"), 1),
        ("12db39c3-7822-4e72-a3ec-c87442c0ffc5", Status.DELIVERED, Decimal("0.01"), 1),
    ]
    assert len(mocked.calls) == 1


def test_the_v3_logs_fixture_is_the_specs_own_example():
    example = spec()["paths"]["/sms/3/logs"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["examples"]["Log"]["value"]
    assert load("logs_v3.json") == example
    assert_valid(example, "LogResponseSmsLogSmsMessageContent")


def test_it_reads_the_deprecated_logs_only_where_v3_answers_404(mocked):
    mocked.get(f"{BASE}/sms/3/logs", json=load("error_not_found.json"), status=404)
    mocked.get(f"{BASE}/sms/1/logs", json=load("logs.json"))
    reports = make_backend().find_by_ref(["MESSAGE-ID-123-xyz", "MESSAGE-ID-ijkl-45"])
    assert [c.request.path_url.split("?")[0] for c in mocked.calls] == [
        "/sms/3/logs",
        "/sms/1/logs",
    ]
    assert mocked.calls[1].request.params == {
        "messageId": "MESSAGE-ID-123-xyz,MESSAGE-ID-ijkl-45",
        "limit": "1000",
    }
    assert [(r.ref, r.status, r.cost) for r in reports] == [
        ("MESSAGE-ID-123-xyz", Status.DELIVERED, Decimal("0.01")),
        ("MESSAGE-ID-ijkl-45", Status.DELIVERED, Decimal("0.01")),
    ]


def test_it_splits_long_id_lists_across_log_lookups(mocked):
    mocked.get(f"{BASE}/sms/3/logs", json={"results": []})
    refs = [f"{i:010d}" for i in range(400)]
    assert make_backend().poll_statuses(refs) == []
    assert len(mocked.calls) == 3
    sent = [c.request.params["messageId"].split(",") for c in mocked.calls]
    assert sum(sent, []) == refs
    assert all(len(c.request.params["messageId"]) <= 2048 for c in mocked.calls)


def test_it_cancels_only_bulks_wholly_asked_for(mocked):
    logs = {
        "results": [
            {"bulkId": "B1", "messageId": "1"},
            {"bulkId": "B1", "messageId": "2"},
            {"bulkId": "B2", "messageId": "3"},
            {"bulkId": "B2", "messageId": "4"},
        ]
    }
    mocked.get(f"{BASE}/sms/3/logs", json=logs)
    mocked.put(f"{BASE}/sms/1/bulks/status", json={"bulkId": "B1", "status": "CANCELED"})
    assert make_backend().cancel(["1", "2", "3"]) == ["1", "2"]
    (put,) = [c for c in mocked.calls if c.request.method == "PUT"]
    assert put.request.params == {"bulkId": "B1"}
    assert json.loads(put.request.body) == {"status": "CANCELED"}
    assert_valid(json.loads(put.request.body), "UpdateStatusRequest")
    assert_valid(load("bulk_status_canceled.json"), "BulkStatusResponse")


# -- preview, conversions, connection, senders ----------------------------------------------


def test_it_previews_a_text(mocked):
    mocked.post(f"{BASE}/sms/1/preview", json=load("preview_response.json"))
    text = load("preview_request.json")["text"]
    preview = make_backend().preview(text)
    assert json.loads(mocked.calls[0].request.body) == load("preview_request.json")
    assert preview["previews"][0]["charactersRemaining"] == 95
    assert_valid(load("preview_request.json"), "PreviewRequest", closed=True)


def test_it_logs_a_conversion(mocked):
    mocked.post(f"{BASE}/ct/1/log/end/MESSAGE-ID-123-xyz", json=load("conversion_response.json"))
    answer = make_backend().log_conversion("MESSAGE-ID-123-xyz")
    assert answer == {"processKey": "A37D448C1ACCA02FABA745522558326C"}


def test_it_reports_a_conversion_for_an_unknown_message(mocked):
    mocked.post(f"{BASE}/ct/1/log/end/nope", json=load("error_not_found.json"), status=404)
    with pytest.raises(ProviderError) as exc:
        make_backend().log_conversion("nope")
    assert exc.value.permanent
    assert "unknown message" in exc.value.message


def test_it_checks_the_connection_without_consuming_reports(mocked):
    mocked.get(f"{BASE}/sms/3/logs", json=load("logs_v3.json"))
    assert "Infobip" in make_backend().check_connection()
    assert mocked.calls[0].request.params == {"limit": "1"}
    assert mocked.calls[0].request.path_url.startswith("/sms/3/logs?")


def test_the_connection_check_falls_back_to_the_deprecated_logs_on_404(mocked):
    mocked.get(f"{BASE}/sms/3/logs", json=load("error_not_found.json"), status=404)
    mocked.get(f"{BASE}/sms/1/logs", json=load("logs.json"))
    assert "Infobip" in make_backend().check_connection()
    assert [c.request.path_url.split("?")[0] for c in mocked.calls] == [
        "/sms/3/logs",
        "/sms/1/logs",
    ]


def test_the_connection_check_reports_bad_credentials(mocked):
    mocked.get(f"{BASE}/sms/3/logs", json=load("error_unauthorized.json"), status=401)
    with pytest.raises(ProviderError) as exc:
        make_backend().check_connection()
    assert exc.value.permanent


@pytest.mark.parametrize(
    ("sender", "ok"),
    [
        ("InfoSMS", True),
        ("SomeStore", True),
        ("ElevenChars", True),
        ("TwelveCharsX", False),
        ("IS", False),
        ("Shop24", True),
        ("41793026700", True),
        ("123", True),
        # Seed 001 says 16 digits, seed 003 says 14: the stricter holds.
        ("41793026700123", True),
        ("+41793026700123", True),
        ("417930267001234", False),
        ("+4179302670012345", False),
        ("12", False),
        ("Shop!", False),
        # Letters and digits only: what the provider refuses at send time.
        ("Shop-24", False),
        ("Shop_24", False),
        ("Shop.de", False),
        ("Shop-Now", False),
        ("Shop 24", False),
        ("Café", False),
    ],
)
def test_it_applies_the_documented_sender_rules(sender, ok):
    assert (make_backend().sender_errors(sender) == []) is ok


# -- over real HTTP -------------------------------------------------------------------------


def test_it_sends_and_pulls_reports_through_a_fake_infobip():
    handler = make_handler(api_key="loopback-key")
    with serve(handler) as base_url:
        backend = make_backend(base_url=base_url, credentials={"api_key": "loopback-key"})
        batch = [
            sms("m1", "+41793026727", "Hello Ann"),
            sms("m2", "+41793026731", "Hello Ann"),
            sms("m3", "+41793026739", "Hello Bob " * 20),
        ]
        results = backend.send_batch(batch, SendOptions(bulk_id="b-1", callback_data="c7"))
        assert [(r.ref, r.provider_message_id, r.status) for r in results] == [
            ("m1", "m1", Status.ACCEPTED),
            ("m2", "m2", Status.ACCEPTED),
            ("m3", "m3", Status.ACCEPTED),
        ]
        (_, _, body) = handler.requests_seen[0]
        assert [len(m["destinations"]) for m in body["messages"]] == [2, 1]

        reports = {r.ref: r for r in backend.pull_reports()}
        assert {ref: r.status for ref, r in reports.items()} == {
            "m1": Status.DELIVERED,
            "m2": Status.DELIVERED,
            "m3": Status.UNDELIVERED,
        }
        assert (reports["m1"].cost, reports["m1"].currency) == (Decimal("0.01"), "EUR")
        assert (reports["m3"].segments, reports["m3"].cost) == (2, Decimal("0.02"))
        assert reports["m3"].error_code == "EC_ABSENT_SUBSCRIBER"
        assert reports["m1"].done_at is not None
        # Reports are handed out once; the logs stay.
        assert backend.pull_reports() == []
        assert {r.ref for r in backend.find_by_ref(["m1", "m3", "unknown"])} == {"m1", "m3"}
        assert "Infobip" in backend.check_connection()


def test_it_cancels_a_scheduled_bulk_at_a_fake_infobip():
    handler = make_handler()
    with serve(handler) as base_url:
        backend = make_backend(base_url=base_url)
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        backend.send_batch(
            [sms("s1", "+41793026727"), sms("s2", "+41793026731")],
            SendOptions(bulk_id="sched-1", send_at=later),
        )
        assert backend.pull_reports() == []
        assert backend.cancel(["s1", "s2"]) == ["s1", "s2"]
        assert handler.bulks["sched-1"]["status"] == "CANCELED"


def test_a_fake_infobip_refuses_a_wrong_key():
    with serve(make_handler(api_key="right")) as base_url:
        backend = make_backend(base_url=base_url, credentials={"api_key": "wrong"})
        with pytest.raises(ProviderError) as exc:
            backend.send_batch([sms("1", "+41793026727")], SendOptions())
    assert exc.value.permanent
    assert "Invalid login details" in exc.value.message


def test_it_falls_back_to_the_older_endpoints_at_a_fake_infobip_without_v3():
    handler = make_handler()
    handler.older_only = True
    with serve(handler) as base_url:
        backend = make_backend(base_url=base_url)
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        backend.send_batch([sms("n1", "+41793026727")], SendOptions())
        backend.send_batch(
            [sms("s1", "+41793026731"), sms("s2", "+41793026732")],
            SendOptions(bulk_id="sched-2", send_at=later),
        )
        assert {r.ref for r in backend.pull_reports()} == {"n1"}
        assert {r.ref for r in backend.find_by_ref(["n1", "s1"])} == {"n1", "s1"}
        assert backend.cancel(["s1", "s2"]) == ["s1", "s2"]
        assert "Infobip" in backend.check_connection()
    gets = [c["path"] for c in handler.calls if c["method"] == "GET"]
    # Each v3 endpoint is asked once; then only its older form.
    assert gets.count("/sms/3/reports") == 1 and gets.count("/sms/3/logs") == 1
    assert "/sms/1/reports" in gets and gets.count("/sms/1/logs") >= 3


@pytest.mark.parametrize(("option", "sent"), [("true", True), ("false", False), ("", False)])
def test_intermediate_reports_are_an_account_option(mocked, option, sent):
    mocked.post(SEND_URL, json=load("send_multiple_destinations_response.json"))
    backend = make_backend(options={"intermediate_report": option})

    backend.send_batch([sms("1", "+41793026727", "Hello")], SendOptions())

    [message] = sent_body(mocked)["messages"]
    assert message.get("intermediateReport", False) is sent
    assert_valid(sent_body(mocked), "SMSAdvancedTextualRequest", closed=True)


def test_a_bulk_infobip_refuses_to_cancel_does_not_hide_the_ones_it_cancelled(mocked):
    logs = {
        "results": [
            {"bulkId": "B1", "messageId": "1"},
            {"bulkId": "B2", "messageId": "2"},
        ]
    }
    mocked.get(f"{BASE}/sms/3/logs", json=logs)
    mocked.put(
        f"{BASE}/sms/1/bulks/status",
        json=load("error_bad_request.json"),
        status=400,
        match=[responses.matchers.query_param_matcher({"bulkId": "B1"})],
    )
    mocked.put(
        f"{BASE}/sms/1/bulks/status",
        json={"bulkId": "B2", "status": "CANCELED"},
        match=[responses.matchers.query_param_matcher({"bulkId": "B2"})],
    )

    with pytest.raises(ProviderError) as exc:
        make_backend().cancel(["1", "2"])

    assert exc.value.cancelled == ["2"]
    assert exc.value.permanent
