"""What waits for Redis survives a restart: tickets and call-back tasks made while Redis
was unreachable are kept in a small local file until they are saved.

The whole spool is rewritten atomically (temp file, fsync, rename) on each change: it is
small, only written during an outage, and a half-written file must never lose a
call-back (a missed 110 call must be called back).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


class SpoolFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def save(self, tickets: list[dict[str, Any]], callbacks: list[dict[str, Any]]) -> None:
        if not tickets and not callbacks:
            self.path.unlink(missing_ok=True)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"tickets": tickets, "callbacks": callbacks}, ensure_ascii=False)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".spool-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(body)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(tickets, callbacks) left by an earlier process; an unreadable file is kept
        aside (renamed .bad) rather than deleted, and reported by the caller."""
        if not self.path.is_file():
            return [], []
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return list(data.get("tickets", [])), list(data.get("callbacks", []))
        except (OSError, ValueError, AttributeError) as exc:
            self.path.rename(self.path.with_suffix(".bad"))
            raise ValueError(f"spool file {self.path} unreadable, kept as .bad: {exc}") from exc
