from django.db import migrations, models

from smsportal.compression import lz4_on_postgresql


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
        # Compressed as the body is (0007).
        lz4_on_postgresql("providers_webhookinbox", "parsed"),
    ]
