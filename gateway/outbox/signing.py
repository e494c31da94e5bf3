"""HMAC-SHA256 signatures for webhooks (and for centres calling our API).

Header ``X-GW-Signature: t=<unix seconds>,v1=<hex>`` where the MAC covers
``"<t>." + body``. Receivers check the MAC with the shared secret and reject a
timestamp older than their tolerance (replay protection); the idempotency key
(header ``Idempotency-Key``, also in the body) is what they dedupe on.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-GW-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(secret: str, body: bytes, header: str, now: int, tolerance: int = 300) -> str:
    """'' when the signature is valid and fresh, else the reason it is not."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return "signature has no timestamp"
    given = parts.get("v1", "")
    if not given:
        return "signature has no v1 MAC"
    if abs(now - timestamp) > tolerance:
        return "signature timestamp outside tolerance"
    # bytes: compare_digest refuses non-ASCII str, and a forged header must get a 401
    if not hmac.compare_digest(given.encode(), _mac(secret, timestamp, body).encode()):
        return "signature does not match"
    return ""
