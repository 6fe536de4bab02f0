"""PostgreSQL: one function that locks a tenant's head and, when the caller guessed the head
right, appends its batch; see callseal/ledger/pgappend.py.

SECURITY INVOKER (the default): it runs as the app role under row-level security. It sets
``callseal.tenant_id`` transaction-locally itself (``set_config(..., true)``), which saves
the separate set_config round trip per transaction; callseal.db's backend records that. Each
statement of a PL/pgSQL function takes a new snapshot (READ COMMITTED), so the stream version
and stored event ids are read after the lock is held and see every committed append.
"""

from django.db import migrations, router

FUNCTION = """
CREATE OR REPLACE FUNCTION callseal_ledger_lock_append(
    p_tenant uuid, p_stream text, p_ids uuid[],
    p_guess_sequence bigint, p_guess_hash bytea, p_guess_version bigint,
    p_at timestamptz, p_seq bigint[], p_streams text[], p_versions bigint[], p_event_ids uuid[],
    p_types text[], p_schemas int[], p_subjects text[], p_payloads text[], p_metas text[],
    p_prevs bytea[], p_leaves bytea[],
    p_new_sequence bigint, p_new_hash bytea, p_new_frontier bytea
) RETURNS TABLE (
    head_sequence bigint, head_hash bytea, head_frontier bytea,
    stream_version bigint, known bigint, applied boolean
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    h record;
BEGIN
    PERFORM set_config('callseal.tenant_id', p_tenant::text, true);
    SELECT t.sequence, t.last_hash, t.frontier INTO h
        FROM ledger_tenanthead t WHERE t.tenant_id = p_tenant FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO ledger_tenanthead (tenant_id, sequence, last_hash, frontier)
            VALUES (p_tenant, 0, decode(repeat('00', 32), 'hex'), '')
            ON CONFLICT (tenant_id) DO NOTHING;
        SELECT t.sequence, t.last_hash, t.frontier INTO h
            FROM ledger_tenanthead t WHERE t.tenant_id = p_tenant FOR UPDATE;
    END IF;
    head_sequence := h.sequence;
    head_hash := h.last_hash;
    head_frontier := h.frontier;
    SELECT coalesce(max(e.stream_version), 0) INTO stream_version
        FROM ledger_event e WHERE e.tenant_id = p_tenant AND e.stream_id = p_stream;
    SELECT count(*) INTO known
        FROM ledger_event e WHERE e.tenant_id = p_tenant AND e.event_id = ANY(p_ids);
    applied := p_guess_sequence IS NOT NULL AND h.sequence = p_guess_sequence
        AND h.last_hash = p_guess_hash AND stream_version = p_guess_version AND known = 0;
    IF applied THEN
        INSERT INTO ledger_event (tenant_id, sequence, stream_id, stream_version, event_id,
                type, schema_version, subject_ref, payload, metadata, recorded_at, prev_hash,
                leaf_hash)
            SELECT p_tenant, u.seq, u.stream, u.ver, u.eid, u.typ, u.sv, u.subj, u.payload,
                u.meta, p_at, u.prev, u.leaf
            FROM unnest(p_seq, p_streams, p_versions, p_event_ids, p_types, p_schemas,
                p_subjects, p_payloads, p_metas, p_prevs, p_leaves)
                AS u(seq, stream, ver, eid, typ, sv, subj, payload, meta, prev, leaf);
        UPDATE ledger_tenanthead SET sequence = p_new_sequence, last_hash = p_new_hash,
            frontier = p_new_frontier WHERE tenant_id = p_tenant;
    END IF;
    RETURN NEXT;
END
$$;
"""
DROP = "DROP FUNCTION IF EXISTS callseal_ledger_lock_append"


def _applies(apps, schema_editor):
    conn = schema_editor.connection
    model = apps.get_model("ledger", "Event")
    return conn.vendor == "postgresql" and router.allow_migrate_model(conn.alias, model)


def forwards(apps, schema_editor):
    if _applies(apps, schema_editor):
        schema_editor.execute(FUNCTION, params=None)  # no client-side %-formatting


def backwards(apps, schema_editor):
    if _applies(apps, schema_editor):
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0003_lean_indexes")]

    # The residency hint routes this RunPython to the region databases (see ResidencyRouter).
    operations = [migrations.RunPython(forwards, backwards, hints={"residency": "regional"})]
