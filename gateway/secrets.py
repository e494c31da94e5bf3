"""Secrets come from the environment or a file, never from the repo."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, model_validator


class SecretRef(BaseModel):
    """Where a secret lives: ``env: NAME`` or ``file: /run/secrets/x`` (first found wins)."""

    env: str | None = None
    file: Path | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SecretRef:
        if not self.env and not self.file:
            raise ValueError("a secret needs 'env' (variable name) or 'file' (path)")
        return self

    def resolve(self) -> str | None:
        """The secret's value, or None when neither source has it."""
        if self.env and os.environ.get(self.env):
            return os.environ[self.env]
        if self.file and self.file.is_file():
            return self.file.read_text(encoding="utf-8").strip()
        return None

    def describe(self) -> str:
        parts = [f"env {self.env}" if self.env else "", f"file {self.file}" if self.file else ""]
        return " or ".join(p for p in parts if p)
