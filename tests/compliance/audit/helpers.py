"""A small ledger to export: two calls, a note stream, checkpoints, one erased subject."""

from __future__ import annotations

import contextlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from callseal.crypto.services import subject_ref_for
from callseal.ledger.registry import Personal, register_event
from callseal.ledger.services import erase_subject, ledger_append
from callseal.ledger.signing import checkpoint_create

CALL_A = "0b7d6f7e-1c1e-4a52-9a9b-6d0c1f1e2a01"
CALL_B = "0b7d6f7e-1c1e-4a52-9a9b-6d0c1f1e2a02"
CALLER_A = "+14155550123"
CALLER_B = "+14155550188"


@register_event("audit_test.call_started", version=1)
@dataclass(frozen=True, slots=True)
class CallStarted:
    to_number: str
    from_number: Personal[str]


@register_event("audit_test.turn", version=1)
@dataclass(frozen=True, slots=True)
class Turn:
    speaker: str
    redacted_text: str
    text: Personal[str]


@register_event("audit_test.inference", version=1)
@dataclass(frozen=True, slots=True)
class InferenceHop:
    service: str
    model: str
    region: str


def make_log() -> dict[str, str]:
    """Appends 13 events in the tenant in context and returns the subject refs by caller."""
    refs = {CALLER_A: subject_ref_for(CALLER_A), CALLER_B: subject_ref_for(CALLER_B)}
    for call, caller in ((CALL_A, CALLER_A), (CALL_B, CALLER_B)):
        ledger_append(
            stream_id=f"call-{call}",
            events=[
                CallStarted(to_number="+14155550100", from_number=caller),
                Turn(speaker="caller", redacted_text="my card is <CARD>", text="my card is 4111"),
                InferenceHop(service="asr", model="tiny.en", region="us"),
                Turn(speaker="agent", redacted_text="thanks", text="thanks"),
            ],
            actor="twilio",
            subject=refs[caller],
            correlation_id=call,
        )
        checkpoint_create()
    ledger_append(
        stream_id="notes",
        events=[InferenceHop(service="llm", model="smollm2", region="us")] * 3,
        actor="user:7",
    )
    checkpoint_create()
    return refs


def erase_caller_b(refs: dict[str, str]) -> None:
    erase_subject(subject_ref=refs[CALLER_B], actor="user:9", reason="erasure request 42")


def rezip(source: Path, target: Path, changes: dict[str, bytes | None]) -> None:
    """Copy a bundle, replacing (or with None dropping) members."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            if info.filename in changes:
                data = changes[info.filename]
                if data is not None:
                    new.writestr(info.filename, data)
            else:
                new.writestr(info.filename, old.read(info.filename))
        for name, data in changes.items():
            if data is not None and name not in old.namelist():
                new.writestr(name, data)


def member(bundle: Path, name: str) -> bytes:
    with zipfile.ZipFile(bundle) as z:
        return z.read(name)


def run_verifier(bundle: Path, *args: str) -> tuple[int, str]:
    from compliance import verify

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = verify.main([str(bundle), *args])
    return code, out.getvalue()


def resign(source: Path, target: Path, changes: dict[str, bytes | None]) -> None:
    """An insider holding the signing key: change members, then rewrite and re-sign
    SHA256SUMS, so only the verifier's structural checks can catch the change."""
    from callseal.ledger.signing import signing_key
    from compliance.audit.bundle import sums_signature

    with zipfile.ZipFile(source) as old:
        contents = {i.filename: old.read(i.filename) for i in old.infolist()}
    for name, data in changes.items():
        if data is None:
            contents.pop(name)
        else:
            contents[name] = data
    import hashlib

    listed = {
        n: hashlib.sha256(d).hexdigest()
        for n, d in contents.items()
        if not n.startswith("SHA256SUMS")
    }
    sums = "".join(f"{listed[n]}  {n}\n" for n in sorted(listed)).encode()
    name, private = signing_key()
    contents["SHA256SUMS"] = sums
    contents["SHA256SUMS.sig"] = sums_signature(sums, key_name=name, private_key=private)
    with zipfile.ZipFile(target, "w") as new:
        for member_name, data in contents.items():
            new.writestr(member_name, data)


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)
