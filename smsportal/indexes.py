"""Indexes that only PostgreSQL has, for migrations to create.

A BRIN index summarises ranges of table blocks. For a timestamp set when
rows are written, in time order, it answers date-range filters for almost
nothing per written row, where a btree costs an entry for every row version.
SQLite keeps no index there, and the model state none: the index lives in
the migration that creates it.
"""

from django.db import migrations


def brin_on_postgresql(table: str, column: str, name: str) -> migrations.RunPython:
    """A migration operation creating (and, reversed, dropping) a BRIN index."""

    def create(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING brin ({column})"
            )

    def drop(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")

    return migrations.RunPython(create, drop)
