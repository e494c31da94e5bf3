"""Test support: read Asterisk .conf files and walk the shipped dialplan.

``parse_conf`` is a small reader for Asterisk's INI dialect: repeated sections and keys,
``=`` and ``=>``, ``;`` comments, ``[name](template)`` headers and ``#include``.

``DialplanWalker`` executes the handful of applications the shipped dialplan uses
(Set, GotoIf, Goto, Gosub/Return, TryExec, Dial with a b() pre-dial handler, UserEvent,
Read, ...) with Asterisk's substitution rules for ``${VAR}``, ``${VAR:offset:length}``,
``${LEN()}``, ``${SHA1()}`` and ``$[...]``, so tests can ask "where does this call end up
when the trunk is busy?" without a real Asterisk. It fails loudly on anything it does
not know, so a new application in the dialplan needs a deliberate addition here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# ------------------------------------------------------------------ .conf reader


@dataclass
class Section:
    name: str
    templates: list[str]
    is_template: bool
    items: list[tuple[str, str]] = field(default_factory=list)

    def values(self, key: str) -> list[str]:
        return [v for k, v in self.items if k == key]

    def value(self, key: str) -> str | None:
        found = self.values(key)
        return found[-1] if found else None


@dataclass
class ConfFile:
    sections: list[Section]
    includes: list[str]

    def named(self, name: str) -> list[Section]:
        return [s for s in self.sections if s.name == name]


_HEADER = re.compile(r"^\[([^\]]+)\](?:\(([^)]*)\))?\s*$")


def _strip_comment(line: str) -> str:
    out = []
    escaped = False
    for char in line:
        if char == ";" and not escaped:
            break
        escaped = char == "\\"
        out.append(char)
    return "".join(out).strip()


def parse_conf(path: Path) -> ConfFile:
    """Sections in file order (includes inlined where they appear, into the open section)."""
    sections: list[Section] = []
    includes: list[str] = []
    _parse_into(path, sections, includes, current=None)
    return ConfFile(sections, includes)


def _parse_into(
    path: Path, sections: list[Section], includes: list[str], current: Section | None
) -> Section | None:
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = _strip_comment(raw)
        if not line:
            continue
        if line.startswith("#include"):
            target = line.split(None, 1)[1].strip().strip('"')
            includes.append(target)
            included = path.parent / target
            if included.is_file():
                current = _parse_into(included, sections, includes, current)
            continue
        header = _HEADER.match(line)
        if header:
            flags = [f.strip() for f in (header.group(2) or "").split(",") if f.strip()]
            current = Section(
                header.group(1).strip(),
                [f for f in flags if f != "!"],
                "!" in flags,
            )
            sections.append(current)
            continue
        match = re.match(r"^([^=]+?)\s*=>?\s*(.*)$", line)
        if not match or current is None:
            raise ValueError(f"{path}: cannot parse line {raw!r}")
        current.items.append((match.group(1).strip(), match.group(2).strip()))
    return current


# ------------------------------------------------------------------ dialplan model


@dataclass
class Priority:
    number: int
    label: str | None
    app: str
    args: str


def split_app(text: str) -> tuple[str, str]:
    """'Dial(a,b(c))' -> ('Dial', 'a,b(c)')."""
    match = re.match(r"^([A-Za-z0-9_]+)\s*(?:\((.*)\))?\s*$", text, re.S)
    if not match:
        raise ValueError(f"not an application call: {text!r}")
    return match.group(1), match.group(2) or ""


def load_dialplan(conf: ConfFile) -> dict[str, dict[str, list[Priority]]]:
    contexts: dict[str, dict[str, list[Priority]]] = {}
    for section in conf.sections:
        if section.name in ("general", "globals"):
            continue
        extens = contexts.setdefault(section.name, {})
        last: str | None = None
        for key, value in section.items:
            if key == "exten":
                exten, prio, app = value.split(",", 2)
                last = exten.strip()
            elif key == "same":
                if last is None:
                    raise ValueError(f"'same' before any exten in [{section.name}]")
                prio, app = value.split(",", 1)
            else:
                continue
            priorities = extens.setdefault(last, [])
            prio = prio.strip()
            label_match = re.match(r"^(n|\d+)(?:\(([^)]+)\))?$", prio)
            if not label_match:
                raise ValueError(f"bad priority {prio!r} in [{section.name}]")
            number = (
                len(priorities) + 1 if label_match.group(1) == "n" else int(label_match.group(1))
            )
            name, args = split_app(app.strip())
            priorities.append(Priority(number, label_match.group(2), name, args))
    return contexts


def split_args(args: str, separator: str = ",") -> list[str]:
    """Split on top-level separators (not inside parentheses), as Asterisk does."""
    parts, depth, current = [], 0, []
    for char in args:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == separator and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


# ------------------------------------------------------------------ walker


def pattern_matches(pattern: str, exten: str) -> bool:
    """Asterisk extension patterns: X Z N [..] . ! after a leading underscore."""
    regex = ""
    body = pattern[1:]
    index = 0
    while index < len(body):
        char = body[index]
        if char == "[":
            end = body.index("]", index)
            regex += "[" + re.escape(body[index + 1 : end]).replace("\\-", "-") + "]"
            index = end
        elif char in "XZN":
            regex += {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]"}[char]
        elif char == ".":
            regex += ".+"
        elif char == "!":
            regex += ".*"
        else:
            regex += re.escape(char)
        index += 1
    return re.fullmatch(regex, exten) is not None


class CallEnded(Exception):
    pass


@dataclass
class DialAttempt:
    dest: str
    timeout: str
    route: str
    headers: dict[str, str]
    variables: dict[str, str]


@dataclass
class Channel:
    variables: dict[str, str]
    inherit: set[str] = field(default_factory=set)
    context: str = ""
    exten: str = "s"
    index: int = 0  # position in the extension's priority list
    stack: list[tuple[str, str, int, dict[str, str]]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    user_events: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    dials: list[DialAttempt] = field(default_factory=list)
    absolute_timeout: str | None = None
    hung_up: bool = False
    channel_type: str = "PJSIP"


# What the outside world does, per scenario.
DialOutcome = Callable[[str], str]  # dial string -> DIALSTATUS


class DialplanWalker:
    def __init__(
        self,
        dialplan: dict[str, dict[str, list[Priority]]],
        globals_: dict[str, str],
        *,
        dial: DialOutcome,
        audiosocket_status: str = "FAILED",
        read_digits: str = "",
    ) -> None:
        self.dialplan = dialplan
        self.globals = globals_
        self.dial = dial
        self.audiosocket_status = audiosocket_status
        self.read_digits = read_digits
        self.audiosocket_calls: list[list[str]] = []
        self.trace: list[tuple[str, str, str]] = []

    # -------------------------------------------------------------- running

    def run(self, channel: Channel, context: str, exten: str, *, max_steps: int) -> Channel:
        self.goto(channel, context, exten, 1)
        steps = 0
        try:
            while steps < max_steps:
                steps += 1
                priorities = self.dialplan[channel.context][channel.exten]
                if channel.index >= len(priorities):
                    raise CallEnded(f"fell off {channel.context},{channel.exten}")
                priority = priorities[channel.index]
                channel.index += 1
                self.trace.append((channel.context, channel.exten, priority.app))
                self.execute(channel, priority.app, priority.args)
        except CallEnded:
            channel.hung_up = True
        return channel

    def match_exten(self, context: str, exten: str) -> str:
        """The extension entry that takes ``exten``: exact, else a matching _pattern."""
        extens = self.dialplan.get(context, {})
        if exten in extens:
            return exten
        matching = [p for p in extens if p.startswith("_") and pattern_matches(p, exten)]
        if len(matching) != 1:
            raise AssertionError(f"{exten!r} matches {matching or 'nothing'} in [{context}]")
        return matching[0]

    def goto(self, channel: Channel, context: str, exten: str, target: int | str) -> None:
        if not exten.startswith("_"):
            channel.variables["EXTEN"] = exten
        exten = self.match_exten(context, exten)
        priorities = self.dialplan[context][exten]
        for index, priority in enumerate(priorities):
            if priority.number == target or priority.label == target:
                channel.context, channel.exten, channel.index = context, exten, index
                return
        raise AssertionError(f"no priority {target} in {context},{exten}")

    def resolve_target(self, channel: Channel, target: str) -> tuple[str, str, int | str]:
        parts = [p.strip() for p in target.split(",")]
        label: int | str = int(parts[-1]) if parts[-1].isdigit() else parts[-1]
        if len(parts) == 3:
            return parts[0], parts[1], label
        if len(parts) == 2:
            return channel.context, parts[0], label
        return channel.context, channel.exten, label

    # -------------------------------------------------------------- applications

    def execute(self, channel: Channel, app: str, raw_args: str) -> None:
        handler = getattr(self, f"app_{app.lower()}", None)
        if handler is None:
            raise AssertionError(f"the walker does not know application {app}()")
        if app in ("GotoIf", "Set"):
            handler(channel, raw_args)  # substitutes itself (lazily / per side)
        else:
            handler(channel, self.substitute(channel, raw_args))

    def app_noop(self, channel: Channel, args: str) -> None:
        pass

    app_answer = app_wait = app_stopplaytones = app_playtones = app_playback = app_noop

    def app_hangup(self, channel: Channel, args: str) -> None:
        raise CallEnded("Hangup()")

    def app_set(self, channel: Channel, raw: str) -> None:
        name, _, value = raw.partition("=")
        value = self.substitute(channel, value)
        name = self.substitute(channel, name).strip()
        header = re.match(r"^PJSIP_HEADER\(add,([^)]+)\)$", name)
        if header:
            assert channel.channel_type == "PJSIP", "PJSIP_HEADER on a non-PJSIP channel"
            channel.headers[header.group(1)] = value
            return
        if name == "TIMEOUT(absolute)":
            channel.absolute_timeout = value
            return
        if name.startswith("__"):
            name = name[2:]
            channel.inherit.add(name)
        elif name.startswith("_"):
            name = name[1:]
            channel.inherit.add(name)
        channel.variables[name] = value

    def app_gotoif(self, channel: Channel, raw: str) -> None:
        condition, _, targets = raw.partition("?")
        when_true, _, when_false = targets.partition(":")
        chosen = when_true if self.truthy(self.substitute(channel, condition)) else when_false
        if chosen:
            self.app_goto(channel, chosen)

    def app_goto(self, channel: Channel, args: str) -> None:
        self.goto(channel, *self.resolve_target(channel, args))

    def app_gosub(self, channel: Channel, args: str) -> None:
        target, _, rest = args.partition("(")
        arguments = split_args(rest[:-1]) if rest else []
        channel.stack.append(
            (channel.context, channel.exten, channel.index, dict(channel.variables))
        )
        for number, value in enumerate(arguments, 1):
            channel.variables[f"ARG{number}"] = value
        self.goto(channel, *self.resolve_target(channel, target))

    def app_return(self, channel: Channel, args: str) -> None:
        context, exten, index, saved = channel.stack.pop()
        for key in [k for k in channel.variables if k.startswith("ARG")]:
            del channel.variables[key]
        channel.variables.update({k: v for k, v in saved.items() if k.startswith("ARG")})
        channel.context, channel.exten, channel.index = context, exten, index

    def app_userevent(self, channel: Channel, args: str) -> None:
        name, *body = split_args(args)
        fields = {}
        for line in body:
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        channel.user_events.append((name, fields))

    def app_tryexec(self, channel: Channel, args: str) -> None:
        app, inner = split_app(args)
        if app == "AudioSocket":
            self.audiosocket_calls.append(split_args(inner))
            channel.variables["TRYSTATUS"] = self.audiosocket_status
            return
        if app == "Dial":
            self.dial_app(channel, inner)
        elif app == "Read":
            name = split_args(inner)[0]
            channel.variables[name] = self.read_digits
        elif app in ("Playtones", "Playback"):
            pass
        else:
            raise AssertionError(f"TryExec of unknown application {app}")
        channel.variables["TRYSTATUS"] = "SUCCESS"

    def app_dial(self, channel: Channel, args: str) -> None:
        self.dial_app(channel, args)

    def dial_app(self, channel: Channel, args: str) -> None:
        dest, timeout, *rest = [*split_args(args), "", ""]
        if not dest:
            raise AssertionError("Dial() without a destination returns -1: the caller is lost")
        options = rest[0] if rest else ""
        callee = Channel(
            {k: v for k, v in channel.variables.items() if k in channel.inherit},
            inherit=set(channel.inherit),
            channel_type=dest.split("/", 1)[0],
        )
        route = ""
        handler = re.search(r"b\(([^^]+)\^([^^]+)\^(\d+)(?:\((.*)\))?\)", options)
        if handler:
            context, exten, prio, argument = handler.groups()
            route = argument or ""
            callee.variables["ARG1"] = route
            sub = DialplanWalker(self.dialplan, self.globals, dial=self.dial)
            callee.stack.append(("__end__", "s", 0, {}))
            sub.goto(callee, context, exten, int(prio))
            while callee.stack:
                priorities = sub.dialplan[callee.context][callee.exten]
                priority = priorities[callee.index]
                callee.index += 1
                if priority.app == "Return" and len(callee.stack) == 1:
                    break
                sub.execute(callee, priority.app, priority.args)
        channel.dials.append(
            DialAttempt(dest, timeout, route, dict(callee.headers), dict(callee.variables))
        )
        channel.variables["DIALSTATUS"] = self.dial(dest)

    # -------------------------------------------------------------- substitution

    def lookup(self, channel: Channel, name: str) -> str:
        builtin = {
            "UNIQUEID": "1795984146.14",
            "EPOCH": "1795984146",
        }
        if name in channel.variables:
            return channel.variables[name]
        if name in builtin:
            return builtin[name]
        return self.globals.get(name, "")

    def function(self, channel: Channel, name: str, argument: str) -> str:
        if name == "LEN":
            return str(len(argument))
        if name == "SHA1":
            return hashlib.sha1(argument.encode()).hexdigest()
        if name == "RAND":
            return "1804289383"
        if name == "CHANNEL" and argument == "channeltype":
            return channel.channel_type
        if name == "GLOBAL":
            return self.globals.get(argument, "")
        raise AssertionError(f"the walker does not know function {name}()")

    def substitute(self, channel: Channel, text: str) -> str:
        # Innermost ${...} first, then $[...] expressions, as Asterisk does.
        while True:
            match = re.search(r"\$\{([^${}]*)\}", text)
            if not match:
                break
            text = (
                text[: match.start()] + self._expand(channel, match.group(1)) + text[match.end() :]
            )
        while True:
            match = re.search(r"\$\[([^\[\]]*)\]", text)
            if not match:
                break
            text = text[: match.start()] + self.evaluate(match.group(1)) + text[match.end() :]
        return text

    def _expand(self, channel: Channel, inner: str) -> str:
        call = re.match(r"^([A-Z0-9_]+)\((.*)\)$", inner, re.S)
        if call:
            return self.function(channel, call.group(1), call.group(2))
        sliced = re.match(r"^([A-Za-z0-9_]+):(-?\d+)(?::(\d+))?$", inner)
        if sliced:
            value = self.lookup(channel, sliced.group(1))
            start = int(sliced.group(2))
            length = sliced.group(3)
            return value[start : start + int(length)] if length else value[start:]
        return self.lookup(channel, inner)

    @staticmethod
    def evaluate(expression: str) -> str:
        tokens = re.findall(r'"[^"]*"|!=|>=|<=|[=<>+\-]|[^\s"=<>+\-!]+', expression)
        if not tokens:
            raise AssertionError(f"empty expression $[{expression}] is a syntax error")

        def value(token: str) -> str:
            return token[1:-1] if token.startswith('"') else token

        if len(tokens) == 1:
            return value(tokens[0])
        if len(tokens) != 3:
            raise AssertionError(f"expression $[{expression}] is not 'a op b'")
        left, op, right = value(tokens[0]), tokens[1], value(tokens[2])
        if op == "+":
            return str(int(left) + int(right))
        numeric = left.lstrip("-").isdigit() and right.lstrip("-").isdigit()
        a: int | str = int(left) if numeric else left
        b: int | str = int(right) if numeric else right
        result = {
            "=": a == b,
            "!=": a != b,
            ">": a > b,  # type: ignore[operator]
            "<": a < b,  # type: ignore[operator]
            ">=": a >= b,  # type: ignore[operator]
            "<=": a <= b,  # type: ignore[operator]
        }[op]
        return "1" if result else "0"

    @staticmethod
    def truthy(value: str) -> bool:
        value = value.strip()
        return bool(value) and value != "0"
