"""Read models of the console's dashboard and charts, projected from the ledger
(analytics/projections.py). Regional: they live in the tenant's region database."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.db import models

from callseal.tenancy.residency import RegionalModel


class Outcome(models.TextChoices):
    LIVE = "live", "Live"
    CONTAINED = "contained", "Contained"
    ESCALATED = "escalated", "Escalated"
    ABANDONED = "abandoned", "Abandoned"


class CallSummary(RegionalModel):
    """One row per call: what the dashboard and the calls list need without the ledger."""

    call_id = models.UUIDField(primary_key=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.BigIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.LIVE)
    end_status = models.CharField(max_length=16, blank=True)
    agent_id = models.UUIDField(null=True, blank=True)
    agent_version = models.PositiveIntegerField(null=True, blank=True)
    caller_turns = models.PositiveIntegerField(default=0)
    agent_turns = models.PositiveIntegerField(default=0)
    # Agent turns that answered the caller (``turn.agent`` of a kind outside
    # analytics.projections.NOT_ANSWERS: not the greeting, consent, hold or apology).
    agent_answers = models.PositiveIntegerField(default=0)
    escalated = models.BooleanField(default=False)
    fallbacks = models.PositiveIntegerField(default=0)
    # Voice-to-voice latency of the call's turns (ms): count, sum and max.
    v2v_count = models.PositiveIntegerField(default=0)
    v2v_sum_ms = models.BigIntegerField(default=0)
    v2v_max_ms = models.IntegerField(null=True, blank=True)
    # Dead air inside the agent's utterances (``turn.underrun``): gaps, their total and the
    # longest (ms).
    dead_air_gaps = models.PositiveIntegerField(default=0)
    dead_air_ms = models.BigIntegerField(default=0)
    dead_air_longest_ms = models.IntegerField(null=True, blank=True)
    # Regions that served the call's inference hops (proof of residency at a glance).
    inference_regions = models.JSONField(default=list)
    # Last version of the call's ledger stream applied (the projection is idempotent).
    ledger_version = models.PositiveIntegerField(default=0)

    class Meta:
        ordering: ClassVar = ["-started_at"]
        indexes: ClassVar = [
            models.Index(fields=["tenant_id", "-started_at"]),
            models.Index(fields=["tenant_id", "outcome", "-started_at"]),
        ]

    @property
    def v2v_avg_ms(self) -> int | None:
        return self.v2v_sum_ms // self.v2v_count if self.v2v_count else None


class HourlyVolume(RegionalModel):
    """Calls started per UTC hour, by outcome once they end (charts and today's figures)."""

    hour = models.DateTimeField()
    calls = models.PositiveIntegerField(default=0)
    contained = models.PositiveIntegerField(default=0)
    escalated = models.PositiveIntegerField(default=0)
    abandoned = models.PositiveIntegerField(default=0)

    class Meta:
        ordering: ClassVar = ["hour"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["tenant_id", "hour"], name="hourly_volume_uniq")
        ]


class LatencySample(RegionalModel):
    """One ``turn.latency`` event: the breakdown of one agent reply."""

    call_id = models.UUIDField()
    stream_version = models.PositiveIntegerField()
    at = models.DateTimeField()
    voice_to_voice_ms = models.IntegerField()
    asr_final_ms = models.IntegerField(null=True, blank=True)
    llm_first_token_ms = models.IntegerField(null=True, blank=True)
    tts_first_audio_ms = models.IntegerField(null=True, blank=True)
    first_frame_ms = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["at"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["tenant_id", "call_id", "stream_version"], name="latency_sample_uniq"
            )
        ]
        indexes: ClassVar = [models.Index(fields=["tenant_id", "at", "voice_to_voice_ms"])]


class AgentTestCallStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    FAILED = "failed", "Failed"


class AgentTestCall(RegionalModel):
    """A simulated call placed from an agent's page (projected from ``test_call.*``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    agent_id = models.UUIDField()
    agent_version = models.PositiveIntegerField()
    phone_number = models.CharField(max_length=16)
    twilio_call_sid = models.CharField(max_length=34)
    caller_text = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=AgentTestCallStatus.choices)
    requested_by = models.CharField(max_length=150)
    requested_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # The simulator's report: answer-to-first-audio, voice-to-voice, frames, error.
    report = models.JSONField(default=dict)

    class Meta:
        ordering: ClassVar = ["-requested_at"]
        indexes: ClassVar = [models.Index(fields=["tenant_id", "agent_id", "-requested_at"])]
