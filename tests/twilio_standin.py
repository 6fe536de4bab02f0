"""A stand-in for Twilio's REST API on loopback that checks each request against Twilio's
OpenAPI spec (../shared/twilio/twilio_api_v2010.json): the path and method exist, path
parameters match their patterns, HTTP Basic credentials are the account's, form fields
are ones the operation declares and enum values are allowed. It answers the spec's example
response for the operation with the request's identifiers, and keeps every request.
``on_call_update`` is told of each accepted call update (``Calls/{Sid}.json``), so that the
call simulator can do what Twilio does then (``calls.simulator.CallControl.update``)."""

from __future__ import annotations

import base64
import json
import re
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SPEC = Path(__file__).resolve().parents[1].parent / "shared" / "twilio" / "twilio_api_v2010.json"
if not SPEC.exists():  # the worktree layout: /work/wt/<name>; shared is /work/shared
    SPEC = Path("/work/shared/twilio/twilio_api_v2010.json")

CALL_UPDATE = "/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json"
ACCOUNT_FETCH = "/2010-04-01/Accounts/{Sid}.json"
NUMBER_LIST = "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json"


@dataclass
class Seen:
    method: str
    path: str
    params: dict[str, str]
    errors: list[str] = field(default_factory=list)


class TwilioStandIn:
    def __init__(
        self, accounts: dict[str, str], numbers: dict[str, list[str]] | None = None
    ) -> None:
        self.spec: dict[str, Any] = json.loads(SPEC.read_text())
        self.accounts = accounts  # account SID -> auth token
        self.numbers = numbers or {}  # account SID -> its incoming phone numbers (E.164)
        self.requests: list[Seen] = []
        self.refuse_with: int | None = None  # answer this status instead (tests of failure)
        self.on_call_update: Callable[[str, dict[str, str]], None] | None = None
        self._routes = [
            (re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", p) + "$"), p, item)
            for p, item in self.spec["paths"].items()
        ]

    def _ref(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def check(
        self, method: str, path: str, headers: Any, body: str, query: str = ""
    ) -> tuple[int, Any, Seen]:
        params = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
        query_params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        seen = Seen(method, path, {**query_params, **params})
        for pattern, template, item in self._routes:
            match = pattern.match(path)
            if match and method.lower() in item:
                operation = item[method.lower()]
                call_update = template == CALL_UPDATE and method == "POST"
                break
        else:
            seen.errors.append(f"no operation {method} {path} in the spec")
            return 404, {"code": 20404, "message": "not found"}, seen
        declared_query = set()
        for param in operation.get("parameters", []) + item.get("parameters", []):
            param = self._ref(param)
            if param.get("in") == "query":
                declared_query.add(param["name"])
            if param.get("in") == "path":
                rx = param.get("schema", {}).get("pattern")
                value = match.group(param["name"])
                if rx and not re.match(rx, value):
                    seen.errors.append(f"path {param['name']}={value!r} !~ {rx}")
        auth = headers.get("Authorization", "")
        user, _, password = (
            base64.b64decode(auth.removeprefix("Basic ") or b"").decode().partition(":")
        )
        if not auth.startswith("Basic ") or self.accounts.get(user) != password:
            seen.errors.append("bad credentials")
            return 401, {"code": 20003, "message": "Authenticate"}, seen
        if match.groupdict().get("AccountSid") not in (None, user):
            seen.errors.append("account in path is not the authenticated one")
        if template == ACCOUNT_FETCH and match.group("Sid") != user:
            seen.errors.append("account in path is not the authenticated one")
        seen.errors.extend(
            f"unknown query parameter {n}" for n in query_params.keys() - declared_query
        )
        schema = self._ref(
            operation.get("requestBody", {})
            .get("content", {})
            .get("application/x-www-form-urlencoded", {})
            .get("schema", {"properties": {}})
        )
        props = schema.get("properties", {})
        for name, value in params.items():
            if name not in props:
                seen.errors.append(f"unknown form field {name}")
                continue
            allowed = self._ref(props[name]).get("enum")
            if allowed and value not in allowed:
                seen.errors.append(f"{name}={value!r} not in {allowed}")
        if seen.errors:
            return 400, {"code": 21200, "message": "; ".join(seen.errors)}, seen
        if self.refuse_with is not None:
            return self.refuse_with, {"code": 20500, "message": "refused by the test"}, seen
        if call_update and self.on_call_update is not None:
            self.on_call_update(match.group("Sid"), params)
        response = operation["responses"].get("200") or operation["responses"].get("201")
        example = next(iter(response["content"]["application/json"]["examples"].values()))["value"]
        answer = {**example, **{k.lower(): v for k, v in match.groupdict().items()}}
        answer["account_sid"] = user
        if "Status" in params:
            answer["status"] = params["Status"]
        if template == NUMBER_LIST and method == "GET":
            answer = self._number_page(example, user, query_params)
        return 200, answer, seen

    def _number_page(
        self, example: dict[str, Any], account_sid: str, query: dict[str, str]
    ) -> dict[str, Any]:
        """The account's numbers, filtered by PhoneNumber as Twilio filters them."""
        wanted = query.get("PhoneNumber")
        owned = [n for n in self.numbers.get(account_sid, []) if wanted in (None, n)]
        (template,) = example["incoming_phone_numbers"][:1]
        records = [{**template, "account_sid": account_sid, "phone_number": n} for n in owned]
        return {
            **example,
            "incoming_phone_numbers": records,
            "next_page_uri": None,
            "end": max(0, len(records) - 1),
        }

    def serve(self) -> tuple[ThreadingHTTPServer, str]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                url = urllib.parse.urlsplit(self.path)
                status, payload, seen = standin.check(
                    self.command, url.path, self.headers, body, url.query
                )
                standin.requests.append(seen)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _handle  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"http://127.0.0.1:{server.server_address[1]}"
