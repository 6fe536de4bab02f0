"""Redaction quality and latency: ours against vanilla Presidio, same spaCy model, same run.

The evaluation set (benchmarks/redaction_corpus.py) is generated here, seeded, in spoken
form. A gold entity counts as found when predictions of its type cover at least 90 % of its
characters; a prediction counts as correct when it overlaps a gold entity of its type.
Vanilla Presidio names two of our types differently; it gets credit for DATE_TIME on a date
of birth and US_BANK_NUMBER on an account number. Targets: recall >= 0.95 and precision >=
0.80 per type, p50 latency <= 15 ms per turn.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterable

from benchmarks.redaction_corpus import TEMPLATES, Sample, generate

ENTITY_TYPES = list(TEMPLATES)
VANILLA_ALIASES = {"DATE_TIME": "DATE_OF_BIRTH", "US_BANK_NUMBER": "ACCOUNT_NUMBER"}
COVERAGE = 0.9
RECALL_TARGET, PRECISION_TARGET, P50_TARGET_MS = 0.95, 0.80, 15.0

Predict = Callable[[str], list[tuple[str, int, int]]]


def score(
    samples: Iterable[Sample], predictions: list[list[tuple[str, int, int]]]
) -> dict[str, tuple[float, float, int]]:
    """Per type: (recall, precision, gold count)."""
    found: defaultdict[str, int] = defaultdict(int)
    gold_n: defaultdict[str, int] = defaultdict(int)
    correct: defaultdict[str, int] = defaultdict(int)
    pred_n: defaultdict[str, int] = defaultdict(int)
    for sample, preds in zip(samples, predictions, strict=True):
        for etype, start, end in sample.spans:
            gold_n[etype] += 1
            covered: set[int] = set()
            for ptype, ps, pe in preds:
                if ptype == etype:
                    covered.update(range(max(ps, start), min(pe, end)))
            if len(covered) >= COVERAGE * (end - start):
                found[etype] += 1
        for ptype, ps, pe in preds:
            if ptype not in ENTITY_TYPES:
                continue
            pred_n[ptype] += 1
            if any(g == ptype and ps < e and s < pe for g, s, e in sample.spans):
                correct[ptype] += 1
    return {
        t: (
            found[t] / gold_n[t] if gold_n[t] else 0.0,
            correct[t] / pred_n[t] if pred_n[t] else 0.0,
            gold_n[t],
        )
        for t in ENTITY_TYPES
    }


def run(
    predict: Predict, samples: list[Sample]
) -> tuple[list[list[tuple[str, int, int]]], list[float]]:
    predict(samples[0].text)  # warm up (first call loads lazily)
    predictions, latencies = [], []
    for sample in samples:
        start = time.perf_counter()
        predictions.append(predict(sample.text))
        latencies.append((time.perf_counter() - start) * 1000)
    return predictions, latencies


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def main() -> int:
    from compliance.redaction import redact_text
    from compliance.redaction.engine import SCORE_THRESHOLD, build_vanilla_analyzer

    samples = generate()
    vanilla = build_vanilla_analyzer()

    def ours(text: str) -> list[tuple[str, int, int]]:
        return [(e.type, e.start, e.end) for e in redact_text(text).entities]

    def presidio(text: str) -> list[tuple[str, int, int]]:
        results = vanilla.analyze(text=text, language="en", score_threshold=SCORE_THRESHOLD)
        return [
            (VANILLA_ALIASES.get(r.entity_type, r.entity_type), r.start, r.end) for r in results
        ]

    our_preds, our_ms = run(ours, samples)
    van_preds, van_ms = run(presidio, samples)
    ours_scores, van_scores = score(samples, our_preds), score(samples, van_preds)
    gold_total = sum(len(s.spans) for s in samples)
    print(f"evaluation set: {len(samples)} turns, {gold_total} labelled entities")
    print(f"{'entity':<15} {'n':>4}  {'recall ours':>11} {'presidio':>9}  ", end="")
    print(f"{'precision ours':>14} {'presidio':>9}")
    failures = 0
    for t in ENTITY_TYPES:
        r, p, n = ours_scores[t]
        vr, vp, _ = van_scores[t]
        ok = r >= RECALL_TARGET and p >= PRECISION_TARGET
        failures += not ok
        verdict = "ok" if ok else "BELOW TARGET"
        print(f"{t:<15} {n:>4}  {r:>11.3f} {vr:>9.3f}  {p:>14.3f} {vp:>9.3f}  {verdict}")
    p50, p95 = statistics.median(our_ms), percentile(our_ms, 95)
    v50, v95 = statistics.median(van_ms), percentile(van_ms, 95)
    print(f"latency per turn, ours (normalise + analyse + anonymise): p50 {p50:.1f} ms", end="")
    print(f" p95 {p95:.1f} ms")
    print(f"latency per turn, vanilla Presidio (analyze): p50 {v50:.1f} ms p95 {v95:.1f} ms")
    print(f"ratio ours/presidio p50: {p50 / v50:.2f}x")
    met = not failures and p50 <= P50_TARGET_MS
    print(
        f"targets (recall >= {RECALL_TARGET}, precision >= {PRECISION_TARGET}, "
        f"p50 <= {P50_TARGET_MS} ms): {'met' if met else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
