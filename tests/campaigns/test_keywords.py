"""Keyword replies: what each means, what it changes (suppressions, consent
history), and the confirmation sent back once, through the account and the
number the keyword came to, logged with its cost."""

from decimal import Decimal

import pytest
import responses

from campaigns.inbound import ingest_inbound
from campaigns.keywords import Intent, classify, fold
from campaigns.models import Campaign, Message
from contacts.models import Consent, ConsentEvent, Contact, Suppression
from providers.base import InboundSms
from providers.models import InboundMessage, ProviderAccount
from providers.status import Status
from smsportal.models import AuditLogEntry

pytestmark = pytest.mark.django_db(transaction=True)

OUR_NUMBER = "4915790000000"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("STOP", Intent.STOP),
        ("  stop. ", Intent.STOP),
        ("Stop please", Intent.STOP),
        ("unsubscribe!", Intent.STOP),
        ("Arrêt", Intent.STOP),
        ("abmelden", Intent.STOP),
        ("BAJA", Intent.STOP),
        ("start", Intent.START),
        ("Yes!", Intent.START),
        ("unstop", Intent.START),
        ("help?", Intent.HELP),
        ("Info", Intent.HELP),
        ("yes, stop it", None),  # opting in takes the whole reply
        ("Helpful, thanks", None),
        ("", None),
        ("Thanks", None),
    ],
)
def test_a_reply_is_read_for_what_it_asks(text, intent):
    found = classify(text)
    assert (found.intent if found else None) == intent


def test_fold_takes_off_case_accents_spaces_and_punctuation():
    assert fold("  ¡Arrêt! ") == "ARRET"


@pytest.fixture
def infobip(db):
    account = ProviderAccount.objects.create(
        name="Infobip",
        kind="infobip",
        base_url="https://api.example.com",
        options={"auth_type": "app_key"},
        default_price=Decimal("0.05"),
    )
    account.credentials = {"api_key": "k"}
    account.save()
    return account


@pytest.fixture
def anna(db):
    return Contact.objects.create(phone="+4915112345601", country="DE")


def reply(account, text, *, msg_id="in-1", sender="4915112345601", recipient=OUR_NUMBER):
    return ingest_inbound(
        account,
        [InboundSms(provider_message_id=msg_id, sender=sender, recipient=recipient, text=text)],
    )


def sent_to_infobip(calls):
    return [c for c in calls if c.request.url.endswith("/sms/2/text/advanced")]


SEND_ANSWER = {
    "bulkId": "b1",
    "messages": [
        {
            "to": "4915112345601",
            "messageId": "reply-1",
            "status": {"groupId": 1, "groupName": "PENDING", "id": 26, "name": "PENDING_ACCEPTED"},
        }
    ],
}


@responses.activate
def test_stop_suppresses_records_consent_and_confirms_once(infobip, anna):
    responses.post("https://api.example.com/sms/2/text/advanced", json=SEND_ANSWER)

    assert reply(infobip, "Stop.") == 1
    # The provider delivers the same reply again: stored once, answered once.
    assert reply(infobip, "Stop.") == 0

    suppression = Suppression.objects.get(phone=anna.phone)
    assert suppression.reason == Suppression.Reason.STOP
    anna.refresh_from_db()
    assert anna.consent == Consent.OPTED_OUT
    event = ConsentEvent.objects.get(contact=anna)
    inbound = InboundMessage.objects.get()
    assert (event.state, event.source) == (Consent.OPTED_OUT, ConsentEvent.Source.KEYWORD)
    assert event.detail == f"Replied STOP (inbound message {inbound.pk})"
    assert AuditLogEntry.objects.filter(action="contact.consent").count() == 1

    calls = sent_to_infobip(responses.calls)
    assert len(calls) == 1
    body = calls[0].request.body
    assert b'"from": "4915790000000"' in body or b'"from":"4915790000000"' in body
    confirmation = Message.objects.get(is_test=True)
    assert confirmation.campaign.purpose == Campaign.Purpose.REPLIES
    assert confirmation.campaign.account == infobip
    assert confirmation.text.startswith("You are unsubscribed")
    assert (confirmation.status, confirmation.provider_message_id) == (Status.ACCEPTED, "reply-1")
    assert confirmation.estimated_cost == Decimal("0.05")


@responses.activate
def test_start_takes_back_only_a_keyword_opt_out(infobip, anna, settings):
    settings.KEYWORD_REPLY_STOP = ""
    Suppression.objects.create(phone="+4915112345699", reason=Suppression.Reason.BLOCKED)

    reply(infobip, "STOP")
    reply(infobip, "start", msg_id="in-2")
    reply(infobip, "START", msg_id="in-3", sender="4915112345699")

    assert not Suppression.objects.filter(phone=anna.phone).exists()
    # Blocked by an Admin: a keyword does not undo it.
    assert Suppression.objects.filter(phone="+4915112345699").exists()
    anna.refresh_from_db()
    assert anna.consent == Consent.OPTED_IN
    assert list(ConsentEvent.objects.filter(contact=anna).values_list("state", flat=True)) == [
        Consent.OPTED_IN,
        Consent.OPTED_OUT,
    ]
    # No confirmation texts are set for STOP (here) or START (by default).
    assert not sent_to_infobip(responses.calls)
    assert not Message.objects.exists()


@responses.activate
def test_help_answers_with_the_accounts_own_text(infobip, anna):
    infobip.options = {**infobip.options, "reply_help": "Shop news. Reply STOP to stop."}
    infobip.save()
    responses.post("https://api.example.com/sms/2/text/advanced", json=SEND_ANSWER)

    reply(infobip, "HELP")

    assert not Suppression.objects.exists()
    assert Message.objects.get().text == "Shop news. Reply STOP to stop."


def test_no_confirmation_without_the_number_the_keyword_came_to(infobip, anna):
    reply(infobip, "STOP", recipient="")

    assert Suppression.objects.filter(phone=anna.phone).exists()
    assert not Message.objects.exists()


def test_an_ordinary_reply_changes_nothing(infobip, anna):
    reply(infobip, "Thanks, see you Saturday")

    assert InboundMessage.objects.count() == 1
    assert not Suppression.objects.exists() and not ConsentEvent.objects.exists()
    assert not Message.objects.exists()


def test_the_account_page_sets_its_confirmations(client, admin_user, sandbox):
    from django.urls import reverse

    from campaigns.keywords import reply_text

    client.force_login(admin_user)
    data = {
        "kind": "sandbox",
        "name": "Sandbox",
        "base_url": "",
        "throughput": "20",
        "currency": "EUR",
        "default_price": "0.05",
        "enabled": "on",
        "rate_card": "DE 0.075",
        "reply_stop": "Bye from Shop. Reply START to come back.",
        "reply_help": "",
    }
    page = client.get(reverse("providers:edit", args=[sandbox.pk])).content.decode()
    assert 'name="reply_stop"' in page and 'name="keyword_replies_off"' in page

    assert client.post(reverse("providers:edit", args=[sandbox.pk]), data).status_code == 302
    sandbox.refresh_from_db()
    assert reply_text(Intent.STOP, sandbox.options) == "Bye from Shop. Reply START to come back."
    # Empty: the site's text.
    assert reply_text(Intent.HELP, sandbox.options).startswith("Marketing messages.")

    client.post(reverse("providers:edit", args=[sandbox.pk]), {**data, "keyword_replies_off": "on"})
    sandbox.refresh_from_db()
    assert reply_text(Intent.STOP, sandbox.options) == ""
    assert reply_text(Intent.HELP, sandbox.options) == ""
