"""Scripted callers: the agent test-suite file format (pure Python, no Django).

``{"scenarios": [{"name": "…", "turns": [{"caller": "what the caller says", "dtmf": "",
"expect": {…}}]}]}``: each scenario is one call, each turn a line the caller says (and keys
it presses) once the agent has finished speaking. ``expect`` is the test suites' business;
here its shape is checked and it is otherwise ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_SCENARIOS = 50
MAX_TURNS = 20
MAX_NAME = 120
MAX_CALLER = 300
MAX_DTMF = 20
MAX_FILE_BYTES = 1_000_000
DTMF_KEYS = frozenset("0123456789*#")
TURN_KEYS = frozenset({"caller", "dtmf", "expect"})
# The expectations of issue 24's suites: name → accepted types.
EXPECT_KEYS: dict[str, str] = {
    "entry": "text or null",
    "contains": "a list of texts",
    "not_contains": "a list of texts",
    "escalates": "true or false",
    "max_v2v_ms": "a positive whole number",
}


class ScriptError(ValueError):
    """A script file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class ScriptTurn:
    caller: str
    dtmf: str = ""
    expect: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    turns: tuple[ScriptTurn, ...]


def _expect_ok(key: str, value: object) -> bool:
    if key == "entry":
        return value is None or isinstance(value, str)
    if key in ("contains", "not_contains"):
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if key == "escalates":
        return isinstance(value, bool)
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _expect(where: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScriptError(f"{where}: must be an object")
    for key, item in value.items():
        if key not in EXPECT_KEYS:
            known = ", ".join(EXPECT_KEYS)
            raise ScriptError(f"{where}: unknown expectation {key!r} (known: {known})")
        if not _expect_ok(key, item):
            raise ScriptError(f"{where}.{key}: must be {EXPECT_KEYS[key]}")
    return dict(value)


def _turn(where: str, value: object) -> ScriptTurn:
    if not isinstance(value, dict):
        raise ScriptError(f"{where}: must be an object")
    unknown = sorted(set(value) - TURN_KEYS)
    if unknown:
        raise ScriptError(f"{where}: unknown field {unknown[0]!r} (known: caller, dtmf, expect)")
    caller, dtmf = value.get("caller", ""), value.get("dtmf", "")
    if not isinstance(caller, str) or len(caller) > MAX_CALLER:
        raise ScriptError(f"{where}.caller: must be text of at most {MAX_CALLER} characters")
    if not isinstance(dtmf, str) or len(dtmf) > MAX_DTMF or not set(dtmf) <= DTMF_KEYS:
        raise ScriptError(f"{where}.dtmf: up to {MAX_DTMF} of the keys 0-9, * and #")
    if not caller.strip() and not dtmf:
        raise ScriptError(f"{where}: says nothing and presses no key")
    return ScriptTurn(
        caller=caller.strip(), dtmf=dtmf, expect=_expect(f"{where}.expect", value.get("expect", {}))
    )


def _scenario(where: str, value: object) -> Scenario:
    if not isinstance(value, dict):
        raise ScriptError(f"{where}: must be an object")
    name, turns = value.get("name"), value.get("turns")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise ScriptError(f"{where}.name: must be text of 1 to {MAX_NAME} characters")
    if not isinstance(turns, list) or not 1 <= len(turns) <= MAX_TURNS:
        raise ScriptError(f"{where}.turns: must be a list of 1 to {MAX_TURNS} turns")
    return Scenario(
        name=name.strip(),
        turns=tuple(_turn(f"{where}.turns[{i}]", turn) for i, turn in enumerate(turns)),
    )


def script_parse(data: object) -> tuple[Scenario, ...]:
    """The scenarios of a decoded script; ScriptError names the first field that is wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("scenarios"), list):
        raise ScriptError('must be an object with a "scenarios" list')
    scenarios = data["scenarios"]
    if not 1 <= len(scenarios) <= MAX_SCENARIOS:
        raise ScriptError(f"scenarios: 1 to {MAX_SCENARIOS} scenarios")
    return tuple(_scenario(f"scenarios[{i}]", s) for i, s in enumerate(scenarios))


def script_load(path: Path) -> tuple[Scenario, ...]:
    """The scenarios of a script file; ScriptError says what is wrong, prefixed by path."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScriptError(f"{path}: no such file") from None
    except OSError as exc:
        raise ScriptError(f"{path}: cannot be read ({exc.strerror})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ScriptError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScriptError(f"{path}: not valid JSON ({exc})") from None
    try:
        return script_parse(data)
    except ScriptError as exc:
        raise ScriptError(f"{path}: {exc}") from None
