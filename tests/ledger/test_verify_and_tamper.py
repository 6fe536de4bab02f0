"""ledger_verify: intact logs pass; every kind of tampering is caught at the right sequence."""

# ruff: noqa: S608  (column names come from the parametrize lists, not from input)
from __future__ import annotations

import re

import pytest
from django.db import DatabaseError, connections, transaction

from callseal.ledger.services import ledger_append
from callseal.ledger.signing import checkpoint_create
from callseal.tenancy.context import tenant_context
from tests.conftest import ALL_DATABASES, postgres_mode
from tests.factories import TenantFactory
from tests.ledger.events import CallStarted, NoteAdded
from tests.ledger.helpers import run_verify, tampering

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES, transaction=True)


@pytest.fixture
def log():
    """A tenant with 6 events over two streams and checkpoints at sizes 3 and 6."""
    tenant = TenantFactory(slug="audited-us", region="us")
    with tenant_context(tenant):
        for i in range(3):
            ledger_append(
                stream_id="notes", events=[NoteAdded(text=f"n{i}", count=i)], actor="agent:1"
            )
        checkpoint_create()
        ledger_append(
            stream_id="call-1",
            events=[
                CallStarted(
                    twilio_call_sid="CA1", from_number="+14155550123", to_number="+14155550100"
                )
            ]
            * 3,
            actor="twilio",
            subject="f" * 64,
        )
        checkpoint_create()
    return tenant


def _failure(slug: str) -> tuple[int, str]:
    code, out, err = run_verify(slug)
    assert code == 1, (out, err)
    assert err.startswith(f"ledger_verify: FAILED: tenant {slug}: sequence ")
    return int(re.search(r"sequence (\d+)", err).group(1)), err  # type: ignore[union-attr]


def _eid(cursor, seq):
    cursor.execute("SELECT id FROM ledger_event WHERE sequence = %s", [seq])
    return cursor.fetchone()[0]


def test_intact_log_verifies_with_one_line_summary(log):
    code, out, err = run_verify("audited-us")
    assert (code, err) == (0, "")
    assert re.fullmatch(
        r"ledger_verify: OK: tenant audited-us \(region us\): 6 events, 2 checkpoints,"
        r" root [0-9a-f]{64} \(\d+\.\d\ds\)\n",
        out,
    )


TEXT_COLUMNS = ["stream_id", "type", "payload", "metadata", "subject_ref"]


@pytest.mark.parametrize("column", TEXT_COLUMNS)
def test_one_changed_character_in_any_text_column_is_caught(log, column):
    with tampering(log) as cursor:
        cursor.execute(f"SELECT {column} FROM ledger_event WHERE sequence = 5")
        value = cursor.fetchone()[0]
        changed = value[:-2] + chr(ord(value[-2]) ^ 1) + value[-1]
        cursor.execute(f"UPDATE ledger_event SET {column} = %s WHERE sequence = 5", [changed])
    sequence, err = _failure("audited-us")
    assert sequence == 5
    assert "leaf hash mismatch" in err


@pytest.mark.parametrize("column", ["leaf_hash", "prev_hash"])
def test_one_flipped_bit_in_a_stored_hash_is_caught(log, column):
    with tampering(log) as cursor:
        cursor.execute(f"SELECT {column} FROM ledger_event WHERE sequence = 4")
        value = bytearray(cursor.fetchone()[0])
        value[7] ^= 0x10
        cursor.execute(f"UPDATE ledger_event SET {column} = %s WHERE sequence = 4", [bytes(value)])
    sequence, err = _failure("audited-us")
    assert sequence == 4
    assert re.search(r"expected [0-9a-f]{64}, found [0-9a-f]{64}", err)


@pytest.mark.parametrize(
    ("column", "value"),
    [("stream_version", 9), ("schema_version", 2), ("sequence", 60)],
)
def test_a_changed_number_is_caught(log, column, value):
    with tampering(log) as cursor:
        cursor.execute(f"UPDATE ledger_event SET {column} = %s WHERE sequence = 2", [value])
    sequence, _ = _failure("audited-us")
    assert sequence == 2


def test_a_shifted_timestamp_is_caught(log):
    with tampering(log) as cursor:
        if connections["region_us"].vendor == "postgresql":
            cursor.execute(
                "UPDATE ledger_event SET recorded_at = recorded_at"
                " + interval '1 microsecond' WHERE sequence = 3"
            )
        else:
            cursor.execute(
                "UPDATE ledger_event SET recorded_at = '2001-01-01 00:00:00' WHERE sequence = 3"
            )
    sequence, _ = _failure("audited-us")
    assert sequence == 3


@pytest.mark.parametrize("deleted", [2, 6])
def test_a_deleted_event_is_caught(log, deleted):
    with tampering(log) as cursor:
        cursor.execute("DELETE FROM ledger_event WHERE sequence = %s", [deleted])
    sequence, err = _failure("audited-us")
    assert sequence == deleted
    assert "event missing" in err


def test_a_reordered_pair_is_caught(log):
    with tampering(log) as cursor:
        id2, id3 = _eid(cursor, 2), _eid(cursor, 3)
        cursor.execute("UPDATE ledger_event SET sequence = -1 WHERE id = %s", [id2])
        cursor.execute("UPDATE ledger_event SET sequence = 2 WHERE id = %s", [id3])
        cursor.execute("UPDATE ledger_event SET sequence = 3 WHERE id = %s", [id2])
    sequence, _ = _failure("audited-us")
    assert sequence == 2


def test_a_forged_checkpoint_is_caught(log):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from callseal.ledger import checkpoint as notes
    from callseal.ledger.models import Checkpoint

    with tenant_context(log):
        real = Checkpoint.objects.order_by("tree_size").first()
        assert real is not None
        opened = notes.parse_body(real.signed_note.split("\n\n")[0] + "\n")
        forged_note = notes.sign(
            opened, name=real.key_name, private_key=Ed25519PrivateKey.generate()
        )
        Checkpoint.objects.create(
            tenant_id=log.id,
            tree_size=3,
            root_hash=real.root_hash,
            signed_note=forged_note,
            key_name=real.key_name,
            created_at=real.created_at,
        )
    sequence, err = _failure("audited-us")
    assert sequence == 3
    assert "checkpoint signature invalid" in err


def test_a_checkpoint_with_a_rewritten_root_is_caught(log):
    with tampering(log) as cursor:
        cursor.execute(
            "UPDATE ledger_checkpoint SET root_hash = %s WHERE tree_size = 6", [bytes(32)]
        )
    sequence, err = _failure("audited-us")
    assert sequence == 6
    assert "differs from its signed note" in err


def test_application_cannot_update_or_delete_events(log):
    with tenant_context(log):
        for sql in (
            "UPDATE ledger_event SET type = 'x'",
            "DELETE FROM ledger_event",
            "UPDATE ledger_checkpoint SET tree_size = 0",
        ):
            with (
                pytest.raises(DatabaseError),
                transaction.atomic(using="region_us"),
                connections["region_us"].cursor() as cursor,
            ):
                cursor.execute(sql)
    assert run_verify("audited-us")[0] == 0


@pytest.mark.skipif(not postgres_mode(), reason="roles and TRUNCATE are PostgreSQL's")
def test_triggers_reject_update_delete_truncate_even_with_privileges(log):
    # The owner has every privilege; only the triggers stand in its way (except TRUNCATE,
    # which the owner may run: it could drop the trigger anyway, and test flush needs it).
    from callseal.tenancy.roles import as_owner

    with tenant_context(log), as_owner(["region_us"]):
        for sql in ("UPDATE ledger_event SET type = 'x'", "DELETE FROM ledger_event"):
            with (
                pytest.raises(DatabaseError, match="append-only"),
                transaction.atomic(using="region_us"),
                connections["region_us"].cursor() as cursor,
            ):
                cursor.execute(sql)
    with tenant_context(log), as_owner(["region_us"]), connections["region_us"].cursor() as c:
        c.execute("GRANT TRUNCATE ON ledger_event TO callseal_app")
    try:
        # Even granted the privilege, the application role is stopped by the trigger.
        with (
            tenant_context(log),
            pytest.raises(DatabaseError, match="append-only: TRUNCATE"),
            transaction.atomic(using="region_us"),
            connections["region_us"].cursor() as cursor,
        ):
            cursor.execute("TRUNCATE ledger_event")
    finally:
        with as_owner(["region_us"]), connections["region_us"].cursor() as c:
            c.execute("REVOKE TRUNCATE ON ledger_event FROM callseal_app")
    assert run_verify("audited-us")[0] == 0
