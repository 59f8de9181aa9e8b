"""Column compression that only PostgreSQL has, for migrations to set.

PostgreSQL compresses a value of more than about 2 kB before it stores it
out of line, with pglz unless a column says otherwise. For a column whose
values live a moment (the webhook inbox), the compression is all that is
paid for, and lz4 costs a fraction of pglz. A server built without lz4
refuses the setting; the column then keeps the default, and nothing else
changes. SQLite has no such setting.
"""

from django.db import migrations


def lz4_on_postgresql(table: str, column: str) -> migrations.RunPython:
    """A migration operation compressing ``column`` with lz4 (and, reversed,
    with the server's default) where the server has lz4."""

    def setting(method: str):
        def run(apps, schema_editor):
            if schema_editor.connection.vendor != "postgresql":
                return
            schema_editor.execute(
                "DO $$ BEGIN "
                f"EXECUTE 'ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method}'; "
                "EXCEPTION WHEN feature_not_supported THEN "
                f"RAISE NOTICE 'compression method {method} is not available: the default stays'; "
                "END $$"
            )

        return run

    return migrations.RunPython(setting("lz4"), setting("default"), elidable=True)
