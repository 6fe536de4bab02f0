"""Key wrapping under a data subject's key (the recording container's ``KeyWrapper``).

A recording's key-encryption key is wrapped by the subject key of the caller, so destroying
the subject key (erasure) makes every recording of that subject undecryptable. The wrapped
value is bound to the tenant, the subject and the caller's context (associated data), so it
cannot be moved to another subject or recording.
"""

from __future__ import annotations

from callseal.crypto.aead import DecryptionFailed, open_sealed, seal
from callseal.crypto.services import subject_key
from callseal.tenancy.context import current_tenant


class SubjectKeyDestroyed(DecryptionFailed):
    """The subject key no longer exists (erased or shredded): nothing under it opens."""


class SubjectKeyWrapper:
    """Wraps 32-byte keys with AES-256-GCM under the subject key of the current tenant.

    Structurally a ``compliance.recording.KeyWrapper``. ``create`` makes the subject key on
    first use (recording start); readers pass ``create=False`` so an erased subject is
    reported instead of silently re-keyed.
    """

    algorithm = "A256GCMKW"

    def __init__(self, *, subject_ref: str, create: bool = False) -> None:
        if not subject_ref:
            raise ValueError("subject_ref is required")
        self._tenant = current_tenant()
        self._subject_ref = subject_ref
        key = subject_key(subject_ref, create=create)
        if key is None:
            raise SubjectKeyDestroyed(f"subject key {subject_ref[:12]}… does not exist")
        self._key = key
        self.key_ref = f"subject:{subject_ref}"

    def _ad(self, context: bytes) -> bytes:
        return f"callseal/subject-wrap/v1|{self._tenant.id}|{self._subject_ref}|".encode() + context

    def wrap(self, data_key: bytes, *, context: bytes) -> bytes:
        return seal(self._key, data_key, self._ad(context))

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        return open_sealed(self._key, wrapped, self._ad(context))


__all__ = ["SubjectKeyDestroyed", "SubjectKeyWrapper"]
