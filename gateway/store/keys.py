"""Every Redis key the gateway uses, in one place (prefix from RedisSettings.key_prefix)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Keys:
    prefix: str = "gw:"

    def ticket(self, ticket_id: str) -> str:
        return f"{self.prefix}ticket:{ticket_id}"

    def ticket_pii(self, ticket_id: str) -> str:
        """Transcript and entities: personal data, expires after retention.transcript_days."""
        return f"{self.prefix}ticket:{ticket_id}:pii"

    @property
    def tickets_by_time(self) -> str:
        return f"{self.prefix}tickets:by_time"

    def caller(self, number: str) -> str:
        # the index key holds a digest, not the number itself
        digest = hashlib.sha256(number.encode()).hexdigest()[:24]
        return f"{self.prefix}caller:{digest}"

    def stats(self, day: date) -> str:
        return f"{self.prefix}stats:{day.isoformat()}"

    def ticket_sequence(self, day: str) -> str:
        return f"{self.prefix}ticket-seq:{day}"

    def loop_due(self, kind: str) -> str:
        """kind: ack | feedback | followup (ticket id → due time, epoch seconds)."""
        return f"{self.prefix}loop:{kind}_due"

    @property
    def manual_followups(self) -> str:
        return f"{self.prefix}loop:manual_followup"

    @property
    def survey_attempts(self) -> str:
        return f"{self.prefix}loop:survey_attempts"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}alerts"

    @property
    def callbacks(self) -> str:
        return f"{self.prefix}callbacks"

    def callback(self, task_id: str) -> str:
        return f"{self.prefix}callback:{task_id}"

    def call(self, call_id: str) -> str:
        return f"{self.prefix}call:{call_id}"

    def call_events(self, call_id: str) -> str:
        return f"{self.prefix}call:{call_id}:events"

    @property
    def calls_recent(self) -> str:
        return f"{self.prefix}calls:recent"

    @property
    def events(self) -> str:
        return f"{self.prefix}events"

    @property
    def outbox_due(self) -> str:
        return f"{self.prefix}outbox:due"

    def outbox_msg(self, msg_id: str) -> str:
        return f"{self.prefix}outbox:msg:{msg_id}"

    @property
    def outbox_dead(self) -> str:
        return f"{self.prefix}outbox:dead"

    @property
    def outbox_counts(self) -> str:
        return f"{self.prefix}outbox:counts"
