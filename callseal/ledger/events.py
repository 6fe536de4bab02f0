"""Event types the ledger itself records, and the shape readers get back."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from callseal.ledger.registry import register_event, spec_for


@register_event("subject.erased", version=1)
@dataclass(frozen=True, slots=True)
class SubjectErased:
    """A data subject's key was destroyed. ``reason`` must hold no personal data."""

    subject_ref: str
    reason: str


class _Erased:
    """Stands in for a personal field whose subject key was destroyed."""

    _instance: _Erased | None = None

    def __new__(cls) -> _Erased:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ERASED"

    def __bool__(self) -> bool:
        return False


ERASED: Any = _Erased()


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as read back: personal fields decrypted, or ERASED once the subject is erased."""

    sequence: int
    stream_id: str
    stream_version: int
    event_id: uuid.UUID
    type: str
    schema_version: int
    subject_ref: str | None
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime
    leaf_hash: bytes
    erased_fields: frozenset[str]

    @property
    def event(self) -> Any:
        """The registered dataclass instance, or None for an unregistered type."""
        spec = spec_for(self.type, self.schema_version)
        if spec is None:
            return None
        factory: Any = spec.cls
        return factory(**{name: self.data.get(name) for name in spec.fields})
