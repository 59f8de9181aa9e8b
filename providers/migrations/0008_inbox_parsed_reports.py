from django.db import migrations, models


def _compression(method: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(
            "DO $$ BEGIN "
            "EXECUTE 'ALTER TABLE providers_webhookinbox "
            f"ALTER COLUMN parsed SET COMPRESSION {method}'; "
            "EXCEPTION WHEN feature_not_supported THEN NULL; "
            "END $$"
        )

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("providers", "0007_inbox_body_lz4"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookinbox",
            name="parsed",
            field=models.TextField(blank=True, editable=False, null=True),
        ),
        # Compressed as the body is (0007): with lz4 where PostgreSQL has it.
        migrations.RunPython(_compression("lz4"), _compression("default"), elidable=True),
    ]
