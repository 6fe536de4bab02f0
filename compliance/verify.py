#!/usr/bin/env python3
"""Offline verifier for Callseal audit bundles (format version 1).

    python verify.py BUNDLE.zip [--key VERIFIER_KEY | --fingerprint HEX]

Runs with only the Python standard library and ``cryptography``; it never imports Django or
Callseal. It streams every file (constant memory whatever the number of events) and checks,
in this order: the SHA256SUMS signature, every file's SHA-256, the manifest, the signed
checkpoints and the consistency proofs between them, every event (canonical form, tenant,
order, contiguity and hash chain where the manifest claims a contiguous range) with its
inclusion proof against the checkpoint root, and the erasure events. It prints a summary and
exits 0 when everything holds; otherwise it prints ``FAILED: <item>: <problem>`` naming the
first failing item and exits 1 (argparse exits 2 on bad arguments).

Pin the signing key out of band: ``--fingerprint`` takes the SHA-256 (hex) of the raw
Ed25519 public key that ``manage.py audit_export`` prints; ``--key`` takes the C2SP verifier
key string. Without a pin the verifier trusts the key inside the bundle and says so.

The format is documented in docs/audit-bundle.md. The hashing, tree and checkpoint code
below repeats callseal/ledger/{canonical,merkle,checkpoint}.py on purpose, so this file can
travel alone; tests/compliance/audit/test_verifier_agrees.py proves the two agree.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import re
import sys
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMAT = "callseal-audit-bundle"
FORMAT_VERSION = 1
SUMS = "SHA256SUMS"
SUMS_SIG = "SHA256SUMS.sig"
SUMS_CONTEXT = b"callseal-audit-bundle/v1 SHA256SUMS\n"
CANONICAL_VERSION = 1
GENESIS_HASH = bytes(32)
ED25519_ALG = 0x01
SIG_PREFIX = "\u2014 "  # "— ": a C2SP signed-note signature line
ERASURE_TYPE = "subject.erased"
CANONICAL_KEYS = (
    "v",
    "tenant",
    "seq",
    "stream",
    "stream_version",
    "event_id",
    "type",
    "schema_version",
    "subject",
    "payload",
    "metadata",
    "recorded_at",
    "prev",
)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


class Failure(Exception):
    """The first item that does not verify; ``item`` names it (a file, line or sequence)."""

    def __init__(self, item: str, problem: str) -> None:
        super().__init__(f"{item}: {problem}")
        self.item, self.problem = item, problem


# --- canonical encoding v1 (callseal/ledger/canonical.py) ---------------------------------


def canonical_json(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


_dumps = json.JSONEncoder(ensure_ascii=False).encode


def canonical_line(event: dict[str, Any]) -> bytes:
    """The canonical bytes of a parsed event: what its leaf hashes (without the newline)."""
    subject = event["subject"]
    return (
        f'{{"v":{CANONICAL_VERSION},"tenant":{_dumps(event["tenant"])},"seq":{int(event["seq"])},'
        f'"stream":{_dumps(event["stream"])},"stream_version":{int(event["stream_version"])},'
        f'"event_id":{_dumps(event["event_id"])},"type":{_dumps(event["type"])},'
        f'"schema_version":{int(event["schema_version"])},'
        f'"subject":{"null" if subject is None else _dumps(subject)},'
        f'"payload":{canonical_json(event["payload"])},'
        f'"metadata":{canonical_json(event["metadata"])},'
        f'"recorded_at":{_dumps(event["recorded_at"])},"prev":"{event["prev"]}"}}'
    ).encode()


def leaf_hash(canonical: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + canonical).digest()


# --- RFC 9162 Merkle tree (callseal/ledger/merkle.py) ------------------------------------


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class CompactRange:
    """Roots of the perfect subtrees covering leaves [0, size): the root in O(log n) memory."""

    def __init__(self) -> None:
        self.size = 0
        self.frontier: list[bytes] = []

    def append(self, leaf: bytes) -> None:
        node, size = leaf, self.size
        while size & 1:
            node = _node(self.frontier.pop(), node)
            size >>= 1
        self.frontier.append(node)
        self.size += 1

    def root(self) -> bytes:
        if not self.frontier:
            return hashlib.sha256(b"").digest()
        node = self.frontier[-1]
        for left in reversed(self.frontier[:-1]):
            node = _node(left, node)
        return node


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    node = leaf
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            node = _node(sibling, node)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            node = _node(node, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and node == expected_root


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if not 0 < old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


# --- keys and signed checkpoints (callseal/ledger/checkpoint.py) -------------------------


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519_ALG]) + public_key).digest()[:4]


def parse_verifier_key(vkey: str) -> tuple[str, bytes]:
    """``<name>+<8 hex key id>+<base64(0x01 || public key)>`` -> (name, raw public key)."""
    try:
        name, hex_id, encoded = vkey.strip().split("+", 2)
        raw = base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise ValueError(f"malformed verifier key {vkey.strip()!r}") from exc
    if len(raw) != 33 or raw[0] != ED25519_ALG:
        raise ValueError("verifier key is not an Ed25519 key")
    if key_id(name, raw[1:]).hex() != hex_id:
        raise ValueError("verifier key id does not match its key")
    return name, raw[1:]


def fingerprint(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    time: datetime


def parse_checkpoint_body(body: str) -> Checkpoint:
    lines = body.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise ValueError("a checkpoint has origin, size and root lines, each ending in \\n")
    if not re.fullmatch(r"0|[1-9][0-9]*", lines[1]):
        raise ValueError(f"tree size {lines[1]!r} is not a decimal number")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except binascii.Error as exc:
        raise ValueError("root hash is not base64") from exc
    if len(root) != 32:
        raise ValueError("root hash is not 32 bytes")
    stamps = [line[5:] for line in lines[3:-1] if line.startswith("time ")]
    if len(stamps) != 1:
        raise ValueError("a Callseal checkpoint carries exactly one time line")
    moment = datetime.strptime(stamps[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return Checkpoint(lines[0], int(lines[1]), root, moment)


def open_note(note: str, *, name: str, public_key: bytes) -> Checkpoint:
    """Verify a signed note's signature by ``name`` and return its checkpoint."""
    body, sep, signatures = note.rpartition("\n\n")
    if not sep:
        raise ValueError("a signed note has a body, an empty line and signatures")
    body += "\n"
    wanted = key_id(name, public_key)
    verifier = Ed25519PublicKey.from_public_bytes(public_key)
    for line in signatures.split("\n"):
        if not line:
            continue
        if not line.startswith(SIG_PREFIX):
            raise ValueError(f"malformed signature line {line!r}")
        signer, _, encoded = line[len(SIG_PREFIX) :].rpartition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise ValueError("signature is not base64") from exc
        if signer != name or raw[:4] != wanted:
            continue
        try:
            verifier.verify(raw[4:], body.encode())
        except InvalidSignature as exc:
            raise ValueError(f"bad signature by {name}") from exc
        return parse_checkpoint_body(body)
    raise ValueError(f"no signature by {name}")


# --- the bundle --------------------------------------------------------------------------


@dataclass
class Summary:
    tenant: str
    region: str
    selection: str
    events: int
    erasures: int
    checkpoints: int
    tree_size: int
    root: str
    key_name: str
    key_fingerprint: str
    pinned: bool


def _hex(value: Any, item: str, what: str) -> bytes:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise Failure(item, f"{what} is not 64 lowercase hex digits")
    return bytes.fromhex(value)


def _json_line(raw: bytes, item: str) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Failure(item, f"not a JSON line ({exc})") from exc


def _lines(bundle: zipfile.ZipFile, name: str) -> Iterator[tuple[int, bytes]]:
    """(line number, line without its newline); every line must end in \\n."""
    with bundle.open(name) as stream:
        for number, raw in enumerate(stream, start=1):
            if not raw.endswith(b"\n"):
                raise Failure(f"{name} line {number}", "line does not end in a newline")
            yield number, raw[:-1]


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _outside_selection(event: dict[str, Any], selection: dict[str, Any]) -> str | None:
    """Which criterion of a filtered export's selection the event fails, if any."""
    metadata = event["metadata"] if isinstance(event["metadata"], dict) else {}
    recorded = _moment(event["recorded_at"])
    if selection.get("from") and recorded < _moment(selection["from"]):
        return "recorded before 'from'"
    if selection.get("to") and recorded >= _moment(selection["to"]):
        return "recorded at or after 'to'"
    if selection.get("types") and event["type"] not in selection["types"]:
        return "type"
    if selection.get("actor") and metadata.get("actor") != selection["actor"]:
        return "actor"
    ref = selection.get("subject_ref")
    if ref and event["subject"] != ref and event["stream"] != f"subject-{ref}":
        return "subject"
    call = selection.get("call")
    streams = selection.get("stream_ids", [])
    if call and event["stream"] not in streams and metadata.get("correlation_id") != call:
        return "call"
    return None


class Verifier:
    def __init__(self, bundle: zipfile.ZipFile, *, pin_key: str | None, pin_fp: str | None):
        self.bundle = bundle
        self.pin_key = pin_key
        self.pin_fp = pin_fp.lower() if pin_fp else None
        self.keys: dict[str, bytes] = {}
        self.checkpoints: dict[int, Checkpoint] = {}

    def run(self) -> Summary:
        names = [info.filename for info in self.bundle.infolist()]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise Failure(duplicated[0], "appears more than once in the zip")
        key_name, public = self._sums_signature()
        self._file_hashes(names)
        manifest = self._manifest()
        if manifest["signing_key"]["name"] != key_name:
            raise Failure("manifest.json", "signing_key differs from the SHA256SUMS signer")
        self._checkpoints(manifest, key_name, public)
        events = self._events(manifest, "events.jsonl", "proofs.jsonl", erasures_only=False)
        erasures = self._events(manifest, "erasures.jsonl", "erasure-proofs.jsonl", True)
        if erasures != manifest["counts"]["erasures"]:
            raise Failure("erasures.jsonl", f"holds {erasures} events, the manifest says so many")
        selection = manifest["selection"]
        described = ", ".join(
            f"{k}={v}"
            for k, v in selection.items()
            if v not in (None, [], "") and k != "contiguous"
        )
        return Summary(
            tenant=f"{manifest['tenant']['slug']} ({manifest['tenant']['id']})",
            region=manifest["tenant"]["region"],
            selection=described or "everything",
            events=events,
            erasures=erasures,
            checkpoints=len(self.checkpoints),
            tree_size=manifest["tree_size"],
            root=self.checkpoints[manifest["tree_size"]].root.hex(),
            key_name=key_name,
            key_fingerprint=fingerprint(public),
            pinned=bool(self.pin_key or self.pin_fp),
        )

    def _read(self, name: str) -> bytes:
        try:
            return self.bundle.read(name)
        except KeyError:
            raise Failure(name, "missing from the bundle") from None

    def _bundle_keys(self) -> dict[str, bytes]:
        keys: dict[str, bytes] = {}
        for number, raw in enumerate(self._read("keys/verifier-keys.txt").splitlines(), 1):
            if not raw.strip():
                continue
            try:
                name, public = parse_verifier_key(raw.decode())
            except (ValueError, UnicodeDecodeError) as exc:
                raise Failure(f"keys/verifier-keys.txt line {number}", str(exc)) from exc
            keys[name] = public
        return keys

    def _sums_signature(self) -> tuple[str, bytes]:
        self.keys = self._bundle_keys()
        sig_text = self._read(SUMS_SIG).decode("utf-8", "replace")
        match = re.fullmatch(r"\u2014 (\S+) ([A-Za-z0-9+/=]+)\n", sig_text)
        if not match:
            raise Failure(SUMS_SIG, "not one line '\u2014 <key name> <base64 signature>'")
        name = match.group(1)
        if self.pin_key:
            try:
                pinned_name, pinned = parse_verifier_key(self.pin_key)
            except ValueError as exc:
                raise Failure("--key", str(exc)) from exc
            if pinned_name != name or self.keys.get(name) != pinned:
                raise Failure("keys/verifier-keys.txt", "the bundle's key is not the pinned key")
        public = self.keys.get(name)
        if public is None:
            raise Failure(SUMS_SIG, f"signed by {name}, a key the bundle does not carry")
        if self.pin_fp and fingerprint(public) != self.pin_fp:
            raise Failure("keys/verifier-keys.txt", "the bundle's key has another fingerprint")
        raw = base64.b64decode(match.group(2))
        if len(raw) != 68 or raw[:4] != key_id(name, public):
            raise Failure(SUMS_SIG, "signature is not a key id and an Ed25519 signature")
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(
                raw[4:], SUMS_CONTEXT + self._read(SUMS)
            )
        except InvalidSignature:
            raise Failure(SUMS, "signature does not verify") from None
        return name, public

    def _file_hashes(self, names: list[str]) -> None:
        listed: dict[str, str] = {}
        for number, raw in enumerate(self._read(SUMS).decode().splitlines(), 1):
            match = re.fullmatch(r"([0-9a-f]{64})  (\S.*)", raw)
            if not match or match.group(2) in listed:
                raise Failure(f"{SUMS} line {number}", "not '<64 hex>  <unique path>'")
            listed[match.group(2)] = match.group(1)
        for name in names:
            if name not in listed and name not in (SUMS, SUMS_SIG):
                raise Failure(name, f"in the bundle but not listed in {SUMS}")
        for name, expected in listed.items():
            digest = hashlib.sha256()
            try:
                with self.bundle.open(name) as stream:
                    while block := stream.read(1 << 20):
                        digest.update(block)
            except KeyError:
                raise Failure(name, f"listed in {SUMS} but missing") from None
            except zipfile.BadZipFile as exc:
                raise Failure(name, f"unreadable ({exc})") from None
            if digest.hexdigest() != expected:
                raise Failure(name, f"SHA-256 {digest.hexdigest()} differs from {SUMS}")

    def _manifest(self) -> dict[str, Any]:
        manifest = _json_line(self._read("manifest.json"), "manifest.json")
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise Failure("manifest.json", f"not a {FORMAT} manifest")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise Failure("manifest.json", f"format_version is not {FORMAT_VERSION}")
        return manifest

    def _checkpoints(self, manifest: dict[str, Any], key_name: str, public: bytes) -> None:
        origin = manifest["log_origin"]
        previous: Checkpoint | None = None
        for number, raw in _lines(self.bundle, "checkpoints.jsonl"):
            item = f"checkpoints.jsonl line {number}"
            entry = _json_line(raw, item)
            try:
                cp = open_note(entry["note"], name=key_name, public_key=public)
            except (ValueError, KeyError, TypeError) as exc:
                raise Failure(item, f"checkpoint does not verify ({exc})") from exc
            if cp.origin != origin:
                raise Failure(item, f"origin {cp.origin!r} is not the log {origin!r}")
            if previous is not None:
                if cp.size <= previous.size:
                    raise Failure(item, "checkpoints are not in increasing tree size")
                proof = [_hex(h, item, "consistency hash") for h in entry["consistency"]]
                if not verify_consistency(previous.size, cp.size, proof, previous.root, cp.root):
                    raise Failure(
                        item, f"tree {cp.size} is not an extension of tree {previous.size}"
                    )
            self.checkpoints[cp.size] = cp
            previous = cp
        if previous is None or previous.size != manifest["tree_size"]:
            raise Failure("checkpoints.jsonl", "the last checkpoint is not the manifest tree_size")

    def _events(
        self, manifest: dict[str, Any], events_name: str, proofs_name: str, erasures_only: bool
    ) -> int:
        tenant = manifest["tenant"]["id"]
        selection = manifest["selection"]
        contiguous = bool(selection["contiguous"]) and not erasures_only
        first = selection.get("first_sequence")
        tree_size = manifest["tree_size"]
        root = self.checkpoints[tree_size].root
        # A range starting at 1 rebuilds the tree itself: checkpoint roots inside it must match.
        rebuilt = CompactRange() if contiguous and first == 1 else None
        previous_seq, previous_leaf, count = 0, b"", 0
        proofs = _lines(self.bundle, proofs_name)
        for number, raw in _lines(self.bundle, events_name):
            item = f"{events_name} line {number}"
            event = _json_line(raw, item)
            if not isinstance(event, dict) or tuple(event) != CANONICAL_KEYS:
                raise Failure(item, "keys are not those of canonical encoding v1, in order")
            seq = event["seq"]
            item = f"{events_name} line {number} (sequence {seq})"
            if not (
                isinstance(event["recorded_at"], str) and _TIME.fullmatch(event["recorded_at"])
            ):
                raise Failure(item, "recorded_at is not YYYY-MM-DDTHH:MM:SS.ffffffZ")
            prev = _hex(event["prev"], item, "prev")
            try:
                if canonical_line(event) != raw:
                    raise Failure(item, "not in canonical form")
            except (TypeError, ValueError, KeyError) as exc:
                raise Failure(item, f"not in canonical form ({exc})") from exc
            if event["tenant"] != tenant:
                raise Failure(item, f"belongs to tenant {event['tenant']}, not {tenant}")
            if not erasures_only and not contiguous:
                outside = _outside_selection(event, selection)
                if outside:
                    raise Failure(item, f"outside the manifest's selection ({outside})")
            if erasures_only and event["type"] != ERASURE_TYPE:
                raise Failure(item, f"is {event['type']}, not {ERASURE_TYPE}")
            if not isinstance(seq, int) or seq <= previous_seq or seq > tree_size:
                raise Failure(item, "sequence out of order or beyond the tree")
            leaf = leaf_hash(raw)
            if contiguous:
                expected = first if previous_seq == 0 else previous_seq + 1
                if seq != expected:
                    raise Failure(item, f"sequence {expected} is missing from a contiguous range")
                if previous_seq and prev != previous_leaf:
                    raise Failure(item, "prev is not the previous event's leaf hash")
            if rebuilt is not None:
                if seq == 1 and prev != GENESIS_HASH:
                    raise Failure(item, "the first event's prev is not 64 zeros")
                rebuilt.append(leaf)
                at = self.checkpoints.get(seq)
                if at is not None and rebuilt.root() != at.root:
                    raise Failure(item, f"rebuilt root differs from checkpoint {seq}")
            self._inclusion(proofs, proofs_name, item, seq, leaf, tree_size, root)
            previous_seq, previous_leaf = seq, leaf
            count += 1
        for number, _ in proofs:
            raise Failure(f"{proofs_name} line {number}", "a proof without an event")
        if contiguous:
            last = selection.get("last_sequence")
            if count and previous_seq != last:
                raise Failure(events_name, f"ends at {previous_seq}, not at {last}")
        if not erasures_only and count != manifest["counts"]["events"]:
            raise Failure(events_name, f"holds {count} events, the manifest says otherwise")
        return count

    def _inclusion(
        self,
        proofs: Iterator[tuple[int, bytes]],
        proofs_name: str,
        event_item: str,
        seq: int,
        leaf: bytes,
        tree_size: int,
        root: bytes,
    ) -> None:
        try:
            number, raw = next(proofs)
        except StopIteration:
            raise Failure(proofs_name, f"no proof for sequence {seq}") from None
        item = f"{proofs_name} line {number} (sequence {seq})"
        proof = _json_line(raw, item)
        if not isinstance(proof, dict) or proof.get("seq") != seq:
            raise Failure(item, "proves another sequence")
        if proof.get("tree_size") != tree_size:
            raise Failure(item, f"is for tree size {proof.get('tree_size')}, not {tree_size}")
        if _hex(proof.get("leaf"), item, "leaf") != leaf:
            raise Failure(event_item, f"its leaf hash differs from the one {item} proves")
        path = [_hex(h, item, "path hash") for h in proof.get("path", [])]
        if not verify_inclusion(leaf, seq - 1, tree_size, path, root):
            raise Failure(item, f"does not prove inclusion in checkpoint {tree_size}")


def verify_bundle(
    source: str | IO[bytes], *, pin_key: str | None = None, pin_fingerprint: str | None = None
) -> Summary:
    """Verify a bundle (path or binary file); raise Failure naming the first bad item."""
    try:
        bundle = zipfile.ZipFile(source)
    except (OSError, zipfile.BadZipFile) as exc:
        raise Failure(str(source), f"not a readable zip ({exc})") from exc
    with bundle:
        try:
            return Verifier(bundle, pin_key=pin_key, pin_fp=pin_fingerprint).run()
        except (KeyError, TypeError, AttributeError) as exc:
            raise Failure("manifest.json", f"missing or malformed field ({exc!r})") from exc
        except zipfile.BadZipFile as exc:
            raise Failure(str(source), f"corrupt zip ({exc})") from exc


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a Callseal audit bundle offline.")
    parser.add_argument("bundle", help="the bundle .zip")
    pin = parser.add_mutually_exclusive_group()
    pin.add_argument("--key", help="pin the signing key: its C2SP verifier key string")
    pin.add_argument("--fingerprint", help="pin the signing key: SHA-256 hex of the raw key")
    args = parser.parse_args(argv)
    out = sys.stdout
    try:
        summary = verify_bundle(args.bundle, pin_key=args.key, pin_fingerprint=args.fingerprint)
    except Failure as failure:
        out.write(f"FAILED: {failure.item}: {failure.problem}\n")
        return 1
    pin_note = (
        "(pinned)" if summary.pinned else "(NOT pinned: compare it with the one you were given)"
    )
    out.write(
        f"OK: tenant {summary.tenant}, region {summary.region}\n"
        f"  selection: {summary.selection}\n"
        f"  {summary.events} events and {summary.erasures} erasure events, each proven in"
        f" the tree of {summary.tree_size} events\n"
        f"  {summary.checkpoints} signed checkpoints, consistent; root {summary.root}\n"
        f"  signed by {summary.key_name}\n"
        f"  key fingerprint {summary.key_fingerprint} {pin_note}\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
