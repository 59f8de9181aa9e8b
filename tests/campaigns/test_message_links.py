"""Messages link to their campaign, contact and account, and history rows
to their message and account, without foreign-key constraints in the
database (see Message and MessageEvent): Django keeps each link's rule."""

import pytest
from django.db import connection
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


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's catalogue")
def test_history_rows_are_appended_without_constraint_triggers_and_go_with_their_message(sent):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid = %s::regclass",
            [MessageEvent._meta.db_table],
        )
        assert cursor.fetchone()[0] == 0
    message = sent.messages.first()
    assert MessageEvent.objects.filter(message=message).exists()
    message.delete()
    assert not MessageEvent.objects.filter(message_id=message.id).exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's indexes")
def test_the_message_log_s_date_filter_uses_a_brin_index(sent):
    import datetime as dt

    from django.utils import timezone

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s", [Message._meta.db_table]
        )
        names = {name for (name,) in cursor.fetchall()}
    # Every status change writes an entry in each btree: none on created_at.
    assert "message_created_at_brin" in names
    assert not [name for name in names if "created" in name and "brin" not in name]
    since = timezone.now() - dt.timedelta(hours=1)
    query = Message.objects.filter(created_at__gte=since).order_by().values("id")
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            sql, params = query.query.sql_with_params()
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("RESET enable_seqscan")
    assert "message_created_at_brin" in plan
    assert query.count() == 4
