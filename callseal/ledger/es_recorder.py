"""eventsourcing's recorder interfaces as an adapter over the ledger store.

Lets ``eventsourcing.tests.persistence``'s own suites (ApplicationRecorderTestCase,
TrackingRecorderTestCase) run against our store, and gives the benchmark a like-for-like
comparison. Needs the dev dependency ``eventsourcing``; production code never imports it.

Mapping: one recorder = one tenant; originator id -> stream id, originator version ->
stream version, topic -> type, state -> payload ``{"state": base64}``, notification id ->
the tenant's sequence. Tracking records are projection positions.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    Notification,
    StoredEvent,
    Subscription,
    Tracking,
    TrackingRecorder,
)

from callseal.ledger import projections, store
from callseal.ledger.canonical import canonical_json
from callseal.ledger.ids import new_event_id
from callseal.tenancy.context import TenantRef, tenant_context

_METADATA = canonical_json({"actor": "eventsourcing"})


def _originator(stream_id: str) -> uuid.UUID | str:
    try:
        parsed = uuid.UUID(stream_id)
    except ValueError:
        return stream_id
    return parsed if str(parsed) == stream_id else stream_id


def _state(record: store.StoredRecord) -> bytes:
    return base64.b64decode(json.loads(record.payload_json)["state"])


class LedgerApplicationRecorder(ApplicationRecorder):
    def __init__(self, tenant: TenantRef) -> None:
        self.tenant = tenant

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int]:
        records = [
            store.Prepared(
                event_id=new_event_id(),
                type=e.topic,
                schema_version=1,
                subject_ref=None,
                payload_json=canonical_json({"state": base64.b64encode(e.state).decode()}),
                metadata_json=_METADATA,
                stream_id=str(e.originator_id),
                stream_version=e.originator_version,
            )
            for e in stored_events
        ]
        with tenant_context(self.tenant):
            try:
                stored = store.append_exact(tenant=self.tenant, records=records)
            except store.DuplicateEvent as exc:
                raise IntegrityError(str(exc)) from exc
        return [r.sequence for r in stored]

    def select_events(
        self,
        originator_id: uuid.UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        with tenant_context(self.tenant):
            records = store.select(
                self.tenant,
                stream_id=str(originator_id),
                after_version=gt or 0,
                up_to_version=lte,
                descending=desc,
                limit=limit or 1_000_000,
            )
        return [StoredEvent(originator_id, r.stream_version, r.type, _state(r)) for r in records]

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        after = 0 if start is None else (start - 1 if inclusive_of_start else start)
        with tenant_context(self.tenant):
            records = store.select(
                self.tenant,
                after_sequence=max(after, 0),
                limit=limit,
                up_to_sequence=stop,
                types=topics,
            )
        return [
            Notification(
                originator_id=_originator(r.stream_id),
                originator_version=r.stream_version,
                topic=r.type,
                state=_state(r),
                id=r.sequence,
            )
            for r in records
        ]

    def max_notification_id(self) -> int | None:
        with tenant_context(self.tenant):
            sequence = store.head(self.tenant).sequence
        return sequence or None

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        return PollingSubscription(self, gt=gt, topics=topics)


class PollingSubscription(Subscription[LedgerApplicationRecorder]):
    """Polls for new notifications (the store has no LISTEN/NOTIFY yet)."""

    poll_interval = 0.05

    def __next__(self) -> Notification:
        while not self._has_been_stopped:
            batch = self._recorder.select_notifications(
                start=self._last_notification_id or 0,
                limit=1,
                topics=self._topics,
                inclusive_of_start=False,
            )
            if batch:
                self._last_notification_id = batch[0].id
                return batch[0]
            time.sleep(self.poll_interval)
        raise StopIteration


class LedgerTrackingRecorder(TrackingRecorder):
    def __init__(self, tenant: TenantRef) -> None:
        self.tenant = tenant

    def insert_tracking(self, tracking: Tracking) -> None:
        with tenant_context(self.tenant):
            try:
                projections.position_advance(tracking.application_name, tracking.notification_id)
            except projections.PositionConflict as exc:
                raise IntegrityError(str(exc)) from exc

    def max_tracking_id(self, application_name: str) -> int | None:
        with tenant_context(self.tenant):
            return projections.position_get(application_name)
