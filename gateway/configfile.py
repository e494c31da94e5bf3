"""One config loader: YAML into pydantic models, with errors that name file, line and field.

Every YAML file the gateway reads (the main config, triage rules, anything an engineer
edits) goes through :func:`load_model`, so every error looks the same:
``configs/gateway.yaml:14: cities.nanchang.did: field required``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    line: int | None
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field or '<top>'}: {self.reason}"


class ConfigError(Exception):
    """A config file is unreadable or invalid; ``problems`` lists every finding."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def _line_index(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Map every key path in a composed YAML tree to its 1-based line number."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[(*path, key)] = key_node.start_mark.line + 1
            for sub, line in _line_index(value_node, (*path, key)).items():
                lines.setdefault(sub, line)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.update(_line_index(item, (*path, index)))
    return lines


def _nearest_line(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    """Line of the deepest existing prefix of ``loc`` (a missing field points at its parent)."""
    for cut in range(len(loc), -1, -1):
        key = tuple(str(p) if not isinstance(p, int) else p for p in loc[:cut])
        if key in lines:
            return lines[key]
    return None


def read_yaml(path: Path) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Parse a YAML file and return (data, line index). Raises ConfigError."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(name, None, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigProblem(name, None, "", f"cannot read: {exc}")]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigProblem(name, line, "", f"YAML syntax: {reason}")]) from None
    return data, (_line_index(node) if node is not None else {})


def validate(
    data: Any, model: type[ModelT], *, file: str, lines: dict[tuple[Any, ...], int] | None = None
) -> ModelT:
    """Validate parsed data into ``model``; errors carry the YAML line where known."""
    lines = lines or {}
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            problems.append(
                ConfigProblem(
                    file=file,
                    line=_nearest_line(lines, loc),
                    field=".".join(str(p) for p in loc),
                    reason=err["msg"],
                )
            )
        raise ConfigError(problems) from None


def load_model(path: str | Path, model: type[ModelT]) -> ModelT:
    """Read ``path`` (YAML) and validate it into ``model``. Raises ConfigError."""
    path = Path(path)
    data, lines = read_yaml(path)
    return validate(data, model, file=str(path), lines=lines)
