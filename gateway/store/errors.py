"""Typed failures of the Redis edge."""

from __future__ import annotations


class StoreUnavailable(RuntimeError):
    """Redis did not answer in time or the connection is gone. The call path catches
    this and keeps routing to safe destinations; the store reconnects by itself."""

    def __init__(self, what: str, cause: BaseException | None = None) -> None:
        super().__init__(f"store unavailable during {what}: {cause!r}")
        self.what = what


class TicketNotFound(KeyError):
    def __init__(self, ticket_id: str) -> None:
        super().__init__(ticket_id)
        self.ticket_id = ticket_id
