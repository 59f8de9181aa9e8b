"""Cheaper writes on the two tables every message status change touches.

- Message.created_at: a BRIN index instead of a btree (PostgreSQL). Every
  status change writes a new row version, and that version gets an entry in
  each btree on the table; messages are created in time order, so block
  ranges summarise created_at well and the message log's date filter keeps
  an index that costs almost nothing per write (see smsportal.indexes).
- MessageEvent: no foreign-key constraints in the database. Each history row
  fired two constraint triggers that looked up and share-locked its message
  and its account; Django's on_delete still removes the history with them.
"""

import django.db.models.deletion
from django.db import migrations, models

from smsportal.indexes import brin_on_postgresql


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0010_provider_side_lists"),
        ("providers", "0002_webhook_inbox"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="message",
            name="campaigns_m_created_d71071_idx",
        ),
        brin_on_postgresql("campaigns_message", "created_at", "message_created_at_brin"),
        migrations.AlterField(
            model_name="messageevent",
            name="account",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                to="providers.provideraccount",
            ),
        ),
        migrations.AlterField(
            model_name="messageevent",
            name="message",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="events",
                to="campaigns.message",
            ),
        ),
    ]
