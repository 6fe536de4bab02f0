"""Playback grants: the reason for listening is given once in a POST and kept here, in the
tenant's region; the audio URL carries only the grant's random id (docs/adr/0009)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from callseal.ledger.envelope import regional_write
from callseal.tenancy.context import current_tenant
from callseal.tenancy.permissions import Perm, require
from callseal.tenancy.selectors import tenant_object_get
from compliance.models import PlaybackGrant, Recording, RecordingKind
from compliance.recording.services import MAX_REASON

GRANT_TTL = timedelta(minutes=10)


def playback_grant_create(
    *, actor_membership: object, recording_id: uuid.UUID, reason: str
) -> PlaybackGrant:
    """Let this user fetch this recording for ``GRANT_TTL``; expired grants are removed."""
    require(actor_membership, Perm.PLAY_RECORDING)
    recording = tenant_object_get(Recording, id=recording_id)
    if recording.kind == RecordingKind.ORIGINAL:
        require(actor_membership, Perm.PLAY_ORIGINAL_RECORDING)
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise ValidationError(f"give a reason for listening (1-{MAX_REASON} characters)")
    tenant = current_tenant()
    now = timezone.now()
    with regional_write():
        PlaybackGrant.objects.filter(tenant_id=tenant.id, created_at__lt=now - GRANT_TTL).delete()
        return PlaybackGrant.objects.create(
            tenant_id=tenant.id,
            recording_id=recording.id,
            user_id=int(getattr(actor_membership, "user_id", 0) or 0),
            reason=reason,
            created_at=now,
        )


def playback_grant_reason(
    *, actor_membership: object, grant_id: str, recording_id: uuid.UUID
) -> str:
    """The reason of a live grant of this user for this recording; PermissionDenied for a
    malformed, expired, foreign (tenant or user) or mismatched grant alike."""
    try:
        grant_uuid = uuid.UUID(grant_id)
    except ValueError:
        raise PermissionDenied("This playback link is invalid or expired.") from None
    grant = PlaybackGrant.objects.filter(
        tenant_id=current_tenant().id,
        id=grant_uuid,
        recording_id=recording_id,
        user_id=int(getattr(actor_membership, "user_id", 0) or 0),
        created_at__gte=timezone.now() - GRANT_TTL,
    ).first()
    if grant is None:
        raise PermissionDenied("This playback link is invalid or expired.")
    return grant.reason
