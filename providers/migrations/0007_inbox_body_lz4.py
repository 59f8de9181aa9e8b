"""A stored callback's body is compressed with lz4 where PostgreSQL has it.

A batch of a hundred delivery reports is some 30 kB: PostgreSQL compresses
a value that large before storing it out of line, with pglz unless told
otherwise. The inbox keeps a body for under a second (a worker applies it
and deletes it), so what is paid for is the compression itself: with pglz
an INSERT of a 50 kB body took about 270 us of PostgreSQL's CPU, with lz4
about 50 us. A server built without lz4 keeps pglz (the statement is
refused, and nothing else changes)."""

from django.db import migrations

from smsportal.compression import lz4_on_postgresql


class Migration(migrations.Migration):
    dependencies = [
        ("providers", "0006_inbox_account_unconstrained"),
    ]

    operations = [lz4_on_postgresql("providers_webhookinbox", "body")]
