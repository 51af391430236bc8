"""`make bench`: run every benchmark module's main() in turn."""

from __future__ import annotations

import importlib
import sys

MODULES = ("bench.dispatch", "bench.attribution", "bench.audiences")


def main() -> int:
    status = 0
    for name in MODULES:
        status |= int(importlib.import_module(name).main() or 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
