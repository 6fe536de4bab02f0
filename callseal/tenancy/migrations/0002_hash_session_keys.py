"""Sessions stored verbatim by the database backend get the key callseal.tenancy.sessions
looks them up by (a digest of the key): signed-in users stay signed in, and no replayable
session key is left in the directory database (docs/adr/0012)."""

from typing import Any

from django.db import migrations


def hash_session_keys(apps: Any, schema_editor: Any) -> None:
    from callseal.tenancy.sessions import session_key_digest

    if schema_editor.connection.alias != "default":
        return
    session = apps.get_model("sessions", "Session")
    rows = session.objects.using("default")
    for old in list(rows.all()):
        rows.create(
            session_key=session_key_digest(old.session_key),
            session_data=old.session_data,
            expire_date=old.expire_date,
        )
        rows.filter(session_key=old.session_key).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("tenancy", "0001_initial"),
        ("sessions", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(hash_session_keys, migrations.RunPython.noop, elidable=True),
    ]
