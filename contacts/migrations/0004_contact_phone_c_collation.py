"""Contact numbers in the "C" collation on PostgreSQL, and no second index.

A number is "+" and digits, so byte order is its order. With the column in
"C", the unique index on it serves prefix searches (LIKE '+4915%') itself,
and the pattern-matching index Django adds beside a unique varchar (paid for
on every imported row: 0.7 s of a million-row import) is dropped.

Django's model state does not carry this (it would make SQLite, which has
no "C" collation, fail); a later AlterField on Contact.phone must repeat it.
"""

from django.db import migrations

LIKE_INDEX = "contacts_contact_phone_2a8bc2d8_like"


def to_c(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {LIKE_INDEX}")
    schema_editor.execute(
        'ALTER TABLE contacts_contact ALTER COLUMN phone TYPE varchar(16) COLLATE "C"'
    )


def back(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        'ALTER TABLE contacts_contact ALTER COLUMN phone TYPE varchar(16) COLLATE "default"'
    )
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {LIKE_INDEX} ON contacts_contact (phone varchar_pattern_ops)"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0003_fewer_indexes_and_membership_checks"),
    ]

    operations = [migrations.RunPython(to_c, back)]
