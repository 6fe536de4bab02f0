"""Redaction quality and latency: ours against vanilla Presidio, same spaCy model, same run.

Three sets: the generated evaluation set (benchmarks/redaction_corpus.py, seeded, spoken
form) and the two hand-written splits of benchmarks/redaction_hard_cases.py, "dev" (the
rules were tuned on it) and "heldout" (never tuned on). A gold entity counts as found when
predictions of its type cover at least 90 % of its characters; a prediction counts as correct
when it overlaps a gold entity of its type. Vanilla Presidio names some of our types
differently (VANILLA_ALIASES) and gets credit under both names. "clean untouched" is the share
of turns without personal data that come out unchanged (for vanilla: with no entity found).
Targets: recall >= 0.95 per type, precision >= 0.80 per type on the generated set, clean
untouched >= 0.95, p50 latency <= 15 ms per turn.
"""

from __future__ import annotations

import os
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from benchmarks.redaction_corpus import TEMPLATES, Sample, generate
from benchmarks.redaction_hard_cases import split

ENTITY_TYPES = list(TEMPLATES)
VANILLA_ALIASES = {
    "DATE_TIME": "DATE_OF_BIRTH",
    "US_BANK_NUMBER": "ACCOUNT_NUMBER",
    "LOCATION": "STREET_ADDRESS",
}
COVERAGE = 0.9
RECALL_TARGET, PRECISION_TARGET, CLEAN_TARGET, P50_TARGET_MS = 0.95, 0.80, 0.95, 15.0

Prediction = list[tuple[str, int, int]]
Predict = Callable[[str], Prediction]


def score(
    samples: Iterable[Sample],
    predictions: list[Prediction],
    types: Sequence[str] = ENTITY_TYPES,
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
            if ptype not in types:
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
        for t in types
    }


def clean_untouched(samples: Sequence[Sample], predictions: list[Prediction]) -> tuple[int, int]:
    """(turns without personal data left untouched, turns without personal data)."""
    clean = [preds for s, preds in zip(samples, predictions, strict=True) if not s.spans]
    return sum(not preds for preds in clean), len(clean)


def run(
    predict: Predict, samples: list[Sample]
) -> tuple[list[Prediction], list[float], list[float]]:
    """Predictions, wall-clock and CPU milliseconds per turn (CPU time is what a loaded host
    distorts least: compare before/after runs by it)."""
    predict(samples[0].text)  # warm up (first call loads lazily)
    predictions, latencies, cpu = [], [], []
    for sample in samples:
        start, start_cpu = time.perf_counter(), time.thread_time()
        predictions.append(predict(sample.text))
        latencies.append((time.perf_counter() - start) * 1000)
        cpu.append((time.thread_time() - start_cpu) * 1000)
    return predictions, latencies, cpu


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def report(
    name: str, samples: list[Sample], ours: Predict, presidio: Predict
) -> tuple[list[float], int]:
    """Print one set's table; return our latencies and the number of targets missed."""
    misses = 0
    our_preds, our_ms, our_cpu = run(ours, samples)
    van_preds, van_ms, van_cpu = run(presidio, samples)
    types = sorted({t for s in samples for t, _, _ in s.spans}, key=_type_order)
    ours_scores, van_scores = score(samples, our_preds, types), score(samples, van_preds, types)
    gold_total = sum(len(s.spans) for s in samples)
    print(f"--- {name}: {len(samples)} turns, {gold_total} labelled entities")
    print(f"{'entity':<19} {'n':>4}  {'recall ours':>11} {'presidio':>9}  ", end="")
    print(f"{'precision ours':>14} {'presidio':>9}")
    for t in types:
        r, p, n = ours_scores[t]
        vr, vp, _ = van_scores[t]
        ok = r >= RECALL_TARGET and (p >= PRECISION_TARGET or name != "generated")
        misses += not ok
        verdict = "ok" if ok else "BELOW TARGET"
        print(f"{t:<19} {n:>4}  {r:>11.3f} {vr:>9.3f}  {p:>14.3f} {vp:>9.3f}  {verdict}")
    kept, clean_n = clean_untouched(samples, our_preds)
    van_kept, _ = clean_untouched(samples, van_preds)
    if clean_n:
        share = kept / clean_n
        misses += share < CLEAN_TARGET
        verdict = "ok" if share >= CLEAN_TARGET else "BELOW TARGET"
        print(
            f"{'clean untouched':<19} {clean_n:>4}  {share:>11.3f} {van_kept / clean_n:>9.3f}"
            f"  ({kept}/{clean_n} ours, {van_kept}/{clean_n} presidio)  {verdict}"
        )
    p50, v50 = statistics.median(our_ms), statistics.median(van_ms)
    c50, vc50 = statistics.median(our_cpu), statistics.median(van_cpu)
    print(
        f"latency per turn (normalise + analyse + anonymise vs analyze): ours p50 {p50:.1f} ms, "
        f"presidio p50 {v50:.1f} ms, ratio ours/presidio {p50 / v50:.2f}x; CPU per turn p50 "
        f"ours {c50:.2f} ms, presidio {vc50:.2f} ms"
    )
    return our_ms, misses


_ORDER = [*ENTITY_TYPES, "PERSON", "STREET_ADDRESS", "POSTAL_CODE"]


def _type_order(t: str) -> tuple[int, str]:
    return (_ORDER.index(t) if t in _ORDER else len(_ORDER), t)


def main() -> int:
    from compliance.redaction import redact_text
    from compliance.redaction.engine import SCORE_THRESHOLD, build_vanilla_analyzer

    vanilla = build_vanilla_analyzer()

    def ours(text: str) -> Prediction:
        return [(e.type, e.start, e.end) for e in redact_text(text).entities]

    def presidio(text: str) -> Prediction:
        results = vanilla.analyze(text=text, language="en", score_threshold=SCORE_THRESHOLD)
        named = [(r.entity_type, r.start, r.end) for r in results]
        return named + [(VANILLA_ALIASES[t], s, e) for t, s, e in named if t in VANILLA_ALIASES]

    load = os.getloadavg()
    print(f"host load average (1/5/15 min): {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    our_ms, misses = report("generated", generate(), ours, presidio)
    for name in ("dev", "heldout"):
        misses += report(f"hard cases, {name}", split(name), ours, presidio)[1]
    p50, p95 = statistics.median(our_ms), percentile(our_ms, 95)
    print(f"latency per turn on the generated set, ours: p50 {p50:.1f} ms p95 {p95:.1f} ms")
    missed = [f"{misses} quality figure(s) below target"] if misses else []
    if p50 > P50_TARGET_MS:
        missed.append(f"p50 {p50:.1f} ms at load {load[0]:.1f}")
    print(
        f"targets (recall >= {RECALL_TARGET} per type, precision >= {PRECISION_TARGET} per "
        f"generated type, clean untouched >= {CLEAN_TARGET}, p50 <= {P50_TARGET_MS} ms): "
        f"{'NOT met: ' + '; '.join(missed) if missed else 'met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
