"""A BRIN index instead of a btree on Contact.created_at (PostgreSQL).

Segments filter contacts by the date they were added. Contacts are added
in time order, so the table's block ranges summarise created_at well and a
BRIN index answers those ranges for almost nothing at insert time; the
btree it replaces cost an entry per imported row. SQLite keeps no index on
it. The model state has no index on the field: the BRIN one lives here.
"""

from django.db import migrations, models

BRIN = "contact_created_at_brin"


def add_brin(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {BRIN} ON contacts_contact USING brin (created_at)"
        )


def drop_brin(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {BRIN}")


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0004_contact_phone_c_collation"),
    ]

    operations = [
        migrations.AlterField(
            model_name="contact",
            name="created_at",
            field=models.DateTimeField(auto_now_add=True),
        ),
        migrations.RunPython(add_brin, drop_brin),
    ]
