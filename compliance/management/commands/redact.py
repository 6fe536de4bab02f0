"""`python manage.py redact --text "…" [--json]`: print the redacted text and its entities."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from compliance.redaction import redact_text
from compliance.redaction.engine import MAX_TEXT_CHARS


class Command(BaseCommand):
    help = "Redact PII (spoken forms included) from one piece of text."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--text", required=True, help="the text to redact")
        parser.add_argument("--json", action="store_true", help="print JSON instead of text")

    def handle(self, *args: Any, **options: Any) -> None:
        text = options["text"]
        if len(text) > MAX_TEXT_CHARS:
            raise CommandError(f"--text is longer than {MAX_TEXT_CHARS} characters")
        result = redact_text(text)
        if options["json"]:
            payload = {
                "redacted_text": result.redacted_text,
                "entities": [
                    {"type": e.type, "start": e.start, "end": e.end, "score": e.score}
                    for e in result.entities
                ],
            }
            self.stdout.write(json.dumps(payload, ensure_ascii=False))
            return
        self.stdout.write(result.redacted_text)
        for e in result.entities:
            self.stdout.write(f"{e.type}\t{e.start}\t{e.end}\t{e.score:.2f}")
