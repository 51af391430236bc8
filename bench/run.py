"""`make bench`: run every benchmark module's main() in turn; exit nonzero when any misses its target or fails."""

from __future__ import annotations

import importlib
import sys
import traceback

MODULES = ("bench.dispatch", "bench.attribution", "bench.audiences", "bench.reports", "bench.coldstart",
           "bench.experiment")


def main() -> int:
    verdicts: dict[str, str] = {}
    for name in MODULES:
        try:
            code = int(importlib.import_module(name).main() or 0)
            verdicts[name] = "met" if code == 0 else "MISSED"
        except Exception:  # one broken bench must not hide the others' figures
            traceback.print_exc()
            verdicts[name] = "ERROR"
        print(flush=True)
    print("bench summary: " + ", ".join(f"{name.removeprefix('bench.')} {v}" for name, v in verdicts.items()))
    return 0 if all(v == "met" for v in verdicts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
