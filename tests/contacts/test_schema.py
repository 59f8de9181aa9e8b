"""What the contacts table is built for: an import writes every index on it,
so each one must earn its place."""

import pytest
from django.db import connection

from contacts.models import Contact

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's indexes"),
]


def indexes():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s", [Contact._meta.db_table]
        )
        return {name for (name,) in cursor.fetchall()}


def test_a_number_prefix_is_found_through_the_unique_index_alone():
    assert not [name for name in indexes() if name.endswith("_like")]
    Contact.objects.bulk_create(Contact(phone=f"+49151{n:08d}") for n in range(2_000))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")
        cursor.execute("SET LOCAL enable_seqscan = off")
        query = Contact.objects.filter(phone__startswith="+4915100000").order_by().values("id")
        sql, params = query.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "contacts_contact_phone_key" in plan
    assert Contact.objects.filter(phone__startswith="+4915100000").count() == 1_000


def test_contacts_added_before_or_after_a_date_are_found_through_a_brin_index():
    import datetime as dt

    from django.utils import timezone

    assert "contact_created_at_brin" in indexes()
    assert not [name for name in indexes() if "created_at" in name and "brin" not in name]
    Contact.objects.bulk_create(Contact(phone=f"+49152{n:08d}") for n in range(500))
    since = timezone.now() - dt.timedelta(hours=1)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        query = Contact.objects.filter(created_at__gte=since).order_by().values("id")
        sql, params = query.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "contact_created_at_brin" in plan
    assert Contact.objects.filter(created_at__gte=since).count() == 500
