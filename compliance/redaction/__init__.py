"""PII redaction of transcripts, spoken forms included (docs/adr/0006-compliance-core.md).

tldextract (used by Presidio's email recogniser) fetches the public suffix list from the
network unless this variable is empty when it is first imported, so it is set here, before
anything below can import Presidio. Presidio's own loggers are held at ERROR: they chat at
INFO on every call and at DEBUG about spans, and our logs must only see redacted text.
"""

import logging
import os

os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
for _name in ("presidio-analyzer", "presidio-anonymizer"):
    logging.getLogger(_name).setLevel(logging.ERROR)

from compliance.redaction.engine import (  # noqa: E402
    Entity,
    RedactionResult,
    redact_text,
    redaction_engine,
)

__all__ = ["Entity", "RedactionResult", "redact_text", "redaction_engine"]
