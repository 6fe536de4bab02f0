"""eventsourcing 9.5.6's own recorder test suites, run against the ledger store."""

from __future__ import annotations

import gc
import uuid

from django.db import connections
from django.test import TransactionTestCase
from eventsourcing.tests.persistence import ApplicationRecorderTestCase, TrackingRecorderTestCase

from callseal.ledger.es_recorder import LedgerApplicationRecorder, LedgerTrackingRecorder
from callseal.tenancy.context import TenantRef


def _fresh_tenant() -> TenantRef:
    # A tenant per recorder, as the suites expect notification ids to start at 1.
    return TenantRef(id=uuid.uuid4(), slug="es-suite", region="us")


class TestLedgerAsApplicationRecorder(
    ApplicationRecorderTestCase[LedgerApplicationRecorder], TransactionTestCase
):
    databases = {"default", "region_us", "region_eu"}

    def create_recorder(self) -> LedgerApplicationRecorder:
        return LedgerApplicationRecorder(_fresh_tenant())

    def close_db_connection(self, *args: object) -> None:
        connections.close_all()

    def tearDown(self) -> None:
        # The suites' worker threads have ended; collecting their thread-local connections
        # closes them, so the test database can be dropped at the end of the session.
        gc.collect()
        super().tearDown()


class TestLedgerAsTrackingRecorder(TrackingRecorderTestCase, TransactionTestCase):
    databases = {"default", "region_us", "region_eu"}

    def create_recorder(self) -> LedgerTrackingRecorder:
        return LedgerTrackingRecorder(_fresh_tenant())
