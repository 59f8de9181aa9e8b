"""Messages link to their campaign, contact and account without foreign-key
constraints in the database (see Message): Django keeps each link's rule."""

import pytest
from django.db.models import ProtectedError

from campaigns import services
from campaigns.models import Message, MessageEvent
from contacts.models import Contact

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sent(draft, manager):
    services.campaign_launch(campaign=draft, user=manager)
    draft.refresh_from_db()
    assert draft.messages.count() == 4
    return draft


def test_deleting_a_contact_keeps_its_messages_without_the_link(sent):
    contact = Contact.objects.get(phone="+4915112345601")
    message = Message.objects.get(campaign=sent, phone=contact.phone)
    contact.delete()
    message.refresh_from_db()
    assert message.contact_id is None
    assert message.status != Message._meta.get_field("status").default


def test_deleting_a_campaign_deletes_its_messages_and_their_history(sent):
    ids = list(sent.messages.values_list("id", flat=True))
    assert MessageEvent.objects.filter(message_id__in=ids).exists()
    sent.delete()
    assert not Message.objects.filter(id__in=ids).exists()
    assert not MessageEvent.objects.filter(message_id__in=ids).exists()


def test_an_account_that_sent_messages_cannot_be_deleted(sent, sandbox):
    with pytest.raises(ProtectedError):
        sandbox.delete()
    assert Message.objects.filter(account=sandbox).count() == 4
