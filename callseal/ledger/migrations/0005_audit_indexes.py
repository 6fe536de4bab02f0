"""Indexes for audit search and export (compliance.audit): by type in sequence, by time."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0004_append_function"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="event",
            index=models.Index(
                fields=["tenant_id", "type", "sequence"], name="ledger_event_type_seq"
            ),
        ),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(fields=["tenant_id", "recorded_at"], name="ledger_event_recorded"),
        ),
    ]
