"""Fewer indexes for appends to maintain.

- The plain ``tenant_id`` indexes of Event and TenantHead (from RegionalModel's
  ``db_index=True``) are redundant: each table has a unique index that starts with
  ``tenant_id``. They are dropped with plain ``DROP INDEX``: an ``AlterField`` would make
  Django rebuild the SQLite table, which drops the append-only triggers of migration 0002.
- The subject index covers only events that have a subject.
"""

from django.db import migrations, models

# Django's deterministic names for the db_index=True indexes of migration 0001.
REDUNDANT = ("ledger_event_tenant_id_d9d2190e", "ledger_tenanthead_tenant_id_a6741c33")


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_append_only_triggers")]

    operations = [
        migrations.RemoveIndex(model_name="event", name="ledger_even_tenant__61cb92_idx"),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="event",
                    name="tenant_id",
                    field=models.UUIDField(editable=False),
                ),
                migrations.AlterField(
                    model_name="tenanthead",
                    name="tenant_id",
                    field=models.UUIDField(editable=False),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql=[f"DROP INDEX IF EXISTS {name}" for name in REDUNDANT],
                    reverse_sql=[
                        f"CREATE INDEX IF NOT EXISTS {name} ON {name.split('_tenant_id')[0]}"
                        " (tenant_id)"
                        for name in REDUNDANT
                    ],
                    hints={"residency": "regional"},
                )
            ],
        ),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(
                condition=models.Q(("subject_ref__isnull", False)),
                fields=["tenant_id", "subject_ref"],
                name="ledger_event_subject_idx",
            ),
        ),
    ]
