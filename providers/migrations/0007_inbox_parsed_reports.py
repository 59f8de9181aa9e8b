from django.db import migrations, models


def _storage(mode: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        table = schema_editor.quote_name("providers_webhookinbox")
        schema_editor.execute(
            f"ALTER TABLE {table} ALTER COLUMN body SET STORAGE {mode}, "
            f"ALTER COLUMN parsed SET STORAGE {mode}"
        )

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("providers", "0006_inbox_account_unconstrained"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookinbox",
            name="parsed",
            field=models.TextField(blank=True, editable=False, null=True),
        ),
        # A stored callback lives a moment: its body and reports are kept
        # out of line as they are, not compressed on the way in (PostgreSQL
        # compresses values of more than 2 kB, a batch of reports is tens)
        # and decompressed on the way out.
        migrations.RunPython(_storage("EXTERNAL"), _storage("EXTENDED")),
    ]
