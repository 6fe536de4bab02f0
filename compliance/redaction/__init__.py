"""PII redaction of transcripts, spoken forms included (docs/adr/0006-compliance-core.md).

tldextract (used by Presidio's email recogniser) fetches the public suffix list from the
network unless this variable is empty when it is first imported, so it is set here, before
anything below can import Presidio.
"""

import os

os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""

from compliance.redaction.engine import (  # noqa: E402
    Entity,
    RedactionResult,
    redact_text,
    redaction_engine,
)

__all__ = ["Entity", "RedactionResult", "redact_text", "redaction_engine"]
