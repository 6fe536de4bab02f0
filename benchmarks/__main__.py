"""Run every benchmarks/bench_*.py module's main(), or those named on the command line.

Each benchmark prints its figures and the ratio against its peer measured in the same run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callseal.settings")
    available = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("names", nargs="*", help=f"any of {', '.join(available)} (default: all)")
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(available))
    if unknown:
        parser.error(
            f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(available)}"
        )
    failures = 0
    for name in args.names or available:
        print(f"=== {name} ===", flush=True)
        module = importlib.import_module(f"benchmarks.bench_{name}")
        failures += int(module.main() or 0)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
