"""Webhook hand-off to the receiving centres: signing and the outbox worker."""

from gateway.outbox.signing import sign, verify
from gateway.outbox.worker import OutboxWorker

__all__ = ["OutboxWorker", "sign", "verify"]
