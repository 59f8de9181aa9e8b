"""A BRIN index instead of a btree on Contact.created_at (PostgreSQL).

Segments filter contacts by the date they were added. Contacts are added
in time order, so the table's block ranges summarise created_at well and a
BRIN index answers those ranges for almost nothing at insert time; the
btree it replaces cost an entry per imported row (see smsportal.indexes).
"""

from django.db import migrations, models

from smsportal.indexes import brin_on_postgresql


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
        brin_on_postgresql("contacts_contact", "created_at", "contact_created_at_brin"),
    ]
