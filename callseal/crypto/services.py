"""Tenant and data-subject keys: creation, lookup, crypto-shredding, field sealing.

Tenant keys are wrapped by the region master key (callseal.crypto.kms); subject keys by
the tenant key. A subject is named by ``subject_ref``: an HMAC of an identifier (e.g. the
caller's E.164 number) under the tenant key, so the reference itself reveals nothing and
the same caller maps to the same subject within one tenant only.
"""

from __future__ import annotations

import hashlib
import hmac
import threading

from callseal.crypto.aead import DecryptionFailed, new_key, open_sealed, seal
from callseal.crypto.kms import key_manager
from callseal.crypto.models import SubjectKey, TenantKey
from callseal.tenancy.context import TenantRef, current_tenant

_tenant_keys: dict[str, bytes] = {}
_lock = threading.Lock()


def _tenant_context_bytes(tenant: TenantRef) -> bytes:
    return f"tenant|{tenant.region}|{tenant.id}".encode()


def tenant_key(tenant: TenantRef | None = None) -> bytes:
    """The current tenant's data key, created (and wrapped) on first use."""
    tenant = tenant or current_tenant()
    cache_key = f"{tenant.region}:{tenant.id}"
    cached = _tenant_keys.get(cache_key)
    if cached is not None:
        return cached
    manager = key_manager(tenant.region)
    context = _tenant_context_bytes(tenant)
    row = TenantKey.objects.filter(tenant_id=tenant.id).first()
    if row is None:
        candidate = TenantKey(tenant_id=tenant.id, wrapped=manager.wrap(new_key(), context=context))
        TenantKey.objects.bulk_create([candidate], ignore_conflicts=True)
        row = TenantKey.objects.get(tenant_id=tenant.id)
    key = manager.unwrap(bytes(row.wrapped), context=context)
    with _lock:
        _tenant_keys[cache_key] = key
    return key


def subject_ref_for(identifier: str, *, tenant: TenantRef | None = None) -> str:
    """The keyed hash naming the data subject behind ``identifier`` in this tenant."""
    if not identifier:
        raise ValueError("a subject identifier must not be empty")
    mac_key = hashlib.sha256(b"callseal/subject-ref/v1|" + tenant_key(tenant)).digest()
    return hmac.new(mac_key, identifier.encode(), hashlib.sha256).hexdigest()


def _subject_context(tenant: TenantRef, subject_ref: str) -> bytes:
    return f"subject|{tenant.id}|{subject_ref}".encode()


def subject_key(subject_ref: str, *, create: bool) -> bytes | None:
    """The subject's key; None when it was destroyed (or never made and ``create`` is off)."""
    tenant = current_tenant()
    tkey = tenant_key(tenant)
    row = SubjectKey.objects.filter(tenant_id=tenant.id, subject_ref=subject_ref).first()
    if row is None:
        if not create:
            return None
        wrapped = seal(tkey, new_key(), _subject_context(tenant, subject_ref))
        SubjectKey.objects.bulk_create(
            [SubjectKey(tenant_id=tenant.id, subject_ref=subject_ref, wrapped=wrapped)],
            ignore_conflicts=True,
        )
        row = SubjectKey.objects.get(tenant_id=tenant.id, subject_ref=subject_ref)
    return open_sealed(tkey, bytes(row.wrapped), _subject_context(tenant, subject_ref))


def subject_key_destroy(subject_ref: str) -> bool:
    """Delete the subject's wrapped key: every value sealed under it becomes unreadable."""
    tenant = current_tenant()
    deleted, _ = SubjectKey.objects.filter(tenant_id=tenant.id, subject_ref=subject_ref).delete()
    return bool(deleted)


def seal_field(key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    return seal(key, plaintext, associated_data)


def open_field(key: bytes, sealed: bytes, associated_data: bytes) -> bytes:
    return open_sealed(key, sealed, associated_data)


__all__ = [
    "DecryptionFailed",
    "open_field",
    "seal_field",
    "subject_key",
    "subject_key_destroy",
    "subject_ref_for",
    "tenant_key",
]
