"""A stored callback's body is compressed with lz4 where PostgreSQL has it.

A batch of a hundred delivery reports is some 30 kB: PostgreSQL compresses
a value that large before storing it out of line, with pglz unless told
otherwise. The inbox keeps a body for under a second (a worker applies it
and deletes it), so what is paid for is the compression itself: with pglz
an INSERT of a 50 kB body took about 270 us of PostgreSQL's CPU, with lz4
about 50 us. A server built without lz4 keeps pglz (the statement is
refused, and nothing else changes)."""

from django.db import migrations

_TABLE = "providers_webhookinbox"


def _set(schema_editor, method: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "DO $$ BEGIN "
        f"EXECUTE 'ALTER TABLE {_TABLE} ALTER COLUMN body SET COMPRESSION {method}'; "
        "EXCEPTION WHEN feature_not_supported THEN "
        f"RAISE NOTICE 'compression method {method} is not available: the default stays'; "
        "END $$"
    )


def forwards(apps, schema_editor):
    _set(schema_editor, "lz4")


def backwards(apps, schema_editor):
    _set(schema_editor, "default")


class Migration(migrations.Migration):
    dependencies = [
        ("providers", "0006_inbox_account_unconstrained"),
    ]

    operations = [migrations.RunPython(forwards, backwards, elidable=True)]
