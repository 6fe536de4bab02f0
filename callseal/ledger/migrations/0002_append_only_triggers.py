"""Triggers that make the event and checkpoint tables append-only in the database itself.

PostgreSQL: UPDATE and DELETE are rejected for everyone; TRUNCATE for everyone but the
table owner (who could drop the trigger anyway; Django's test flush runs as the owner).
SQLite: UPDATE is rejected always, DELETE unless the connection's callseal_maintenance()
answers 1 (only inside `manage.py flush`; see callseal/db/maintenance.py).
"""

from django.db import migrations, router

TABLES = ("ledger_event", "ledger_checkpoint")

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION callseal_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_user = (
        SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = TG_RELID
    ) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'append-only: % on % rejected', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""


def forwards(apps, schema_editor):
    conn = schema_editor.connection
    model = apps.get_model("ledger", "Event")
    if not router.allow_migrate_model(conn.alias, model):
        return
    if conn.vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION, params=None)  # no client-side %-formatting
        for table in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table}"
                " FOR EACH ROW EXECUTE FUNCTION callseal_reject_change()"
            )
            schema_editor.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
                " FOR EACH STATEMENT EXECUTE FUNCTION callseal_reject_change()"
            )
    elif conn.vendor == "sqlite":
        for table in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} BEGIN"
                f" SELECT RAISE(ABORT, 'append-only: UPDATE on {table} rejected'); END"
            )
            schema_editor.execute(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}"
                " WHEN NOT callseal_maintenance() BEGIN"
                f" SELECT RAISE(ABORT, 'append-only: DELETE on {table} rejected'); END"
            )


def backwards(apps, schema_editor):
    conn = schema_editor.connection
    if not router.allow_migrate_model(conn.alias, apps.get_model("ledger", "Event")):
        return
    for table in TABLES:
        if conn.vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        elif conn.vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    # The residency hint routes this RunPython to the region databases (see ResidencyRouter).
    operations = [migrations.RunPython(forwards, backwards, hints={"residency": "regional"})]
