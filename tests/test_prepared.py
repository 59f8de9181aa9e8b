"""Hot statements run prepared, and plainly once a pooler is in the way."""

import pytest
from django.db import ProgrammingError, connection, transaction

from smsportal import prepared

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements"),
    pytest.mark.django_db(transaction=True),
]

SQL = "SELECT %s::int + 1"


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


@pytest.fixture
def on(monkeypatch):
    monkeypatch.setitem(prepared.STATE, "on", True)


def test_a_statement_is_prepared_once_and_answers(on):
    assert prepared.execute(SQL, [1], fetchone=True) == (2,)
    assert prepared.execute(SQL, [41], fetchone=True) == (42,)
    assert sum("::int + 1" in s for s in _prepared_statements()) == 1
    # Only these statements: the connection's other queries stay unprepared.
    assert connection.connection.prepare_threshold is None


def test_in_autocommit_an_unknown_statement_is_asked_again_plainly(on):
    prepared.execute(SQL, [1], fetchone=True)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    assert prepared.execute(SQL, [2], fetchone=True) == (3,)
    assert prepared.STATE["on"] is False
    assert prepared.execute(SQL, [3], fetchone=True) == (4,)
    assert not any("::int + 1" in s for s in _prepared_statements())


def test_in_a_transaction_an_unknown_statement_fails_it_and_is_not_asked_again(on):
    """The failure aborted the transaction: asking again in it would only
    hide the reason. Nothing of the transaction is kept, and the next one
    asks plainly."""
    from campaigns.models import Campaign

    prepared.execute(SQL, [1], fetchone=True)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    with pytest.raises(ProgrammingError, match="does not exist"), transaction.atomic():
        Campaign.objects.filter(pk=0).update(name="never")
        prepared.execute(SQL, [2], fetchone=True)
    assert prepared.STATE["on"] is False
    with transaction.atomic():
        assert prepared.execute(SQL, [5], fetchone=True) == (6,)


def test_its_text_is_in_the_query_log(on):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        prepared.execute(SQL, [1], fetchone=True)
        prepared.execute(SQL, [2], fetchone=True)
    assert [q["sql"] for q in queries.captured_queries] == [SQL, SQL]
