"""Mutation testing of the pure domain with mutmut: every mutant (`make mutate`) or a fixed sample (`make test`).

mutmut runs in a scratch copy (chalicelib/, tests/, devtools/, app.py: the tree being edited is never touched) and
tests each mutant against tests/unit/. The sample is the same for the same source: per module, the mutants whose
names hash lowest. Equivalent mutants are excluded with mutmut's own `# pragma: no mutate` plus a reason; the
table counts what those pragmas hide by generating the module's mutants once without them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The pure domain (no AWS, the clock as an argument), each against tests/unit/.
MODULES = (
    "chalicelib/guardrails/rules.py",
    "chalicelib/guardrails/policy.py",
    "chalicelib/guardrails/feasibility.py",
    "chalicelib/campaigns/schedule.py",
    "chalicelib/campaigns/schedule_triggered.py",
    "chalicelib/audiences/rules.py",
    "chalicelib/audiences/builtin.py",
    "chalicelib/audiences/canonical.py",
    "chalicelib/reports/attribution.py",
    "chalicelib/reports/stats.py",
    "chalicelib/experiments/stats.py",
    "chalicelib/coupons/terms.py",
    "chalicelib/customers/metrics.py",
    "chalicelib/staff/execution.py",
)
THRESHOLD = 0.90
TREES = ("chalicelib", "tests", "devtools", "docs")  # what the scratch project copies (unit tests read docs/reasons.md)
SAMPLE_PER_MODULE = 12
PRAGMA = re.compile(r"\s*#\s*pragma: no mutate\b.*$")
# Statuses of mutmut.stats.status_by_exit_code that count as caught; "no tests" and "survived" do not.
CAUGHT = frozenset({"killed", "timeout", "caught by type check", "segfault"})


@dataclass
class Score:
    module: str
    work: Path  # the scratch project that measured it
    statuses: dict[str, str] = field(default_factory=dict)  # mutant name -> mutmut status
    excluded: int = 0

    @property
    def tested(self) -> int:
        return sum(1 for s in self.statuses.values() if s not in ("skipped", "not checked"))

    @property
    def killed(self) -> int:
        return sum(1 for s in self.statuses.values() if s in CAUGHT)

    @property
    def survivors(self) -> list[str]:
        return sorted(n for n, s in self.statuses.items() if s not in CAUGHT and s not in ("skipped", "not checked"))

    @property
    def rate(self) -> float:
        return self.killed / self.tested if self.tested else 0.0  # nothing measured is no score


@contextmanager
def inside(work: Path) -> Iterator[None]:
    """mutmut's API reads its configuration from the working directory: the scratch project's."""
    from mutmut.configuration import reset_config

    cwd = Path.cwd()
    os.chdir(work)
    reset_config()
    try:
        yield
    finally:
        os.chdir(cwd)
        reset_config()


def mutant_names(source: str, path: str) -> list[str]:
    """The names mutmut gives the mutants of one module (its own generator, so they match `mutmut run`)."""
    from mutmut.mutation.file_mutation import mutate_file_contents
    from mutmut.utils.format_utils import get_mutant_name

    return [get_mutant_name(Path(path), n) for n in mutate_file_contents(path, source).mutant_names]


def excluded_count(path: str) -> int:
    """How many mutants the module's `# pragma: no mutate` lines hide (each must say why it is equivalent)."""
    source = (ROOT / path).read_text()
    if "pragma: no mutate" not in source:
        return 0
    bare = "\n".join(PRAGMA.sub("", line) for line in source.split("\n"))
    return len(mutant_names(bare, path)) - len(mutant_names(source, path))


def sample(modules: list[str], per_module: int) -> list[str]:
    """The fixed sample: per module, the `per_module` mutant names with the lowest SHA-256."""
    chosen: list[str] = []
    for path in modules:
        names = mutant_names((ROOT / path).read_text(), path)
        chosen += sorted(names, key=lambda n: hashlib.sha256(n.encode()).hexdigest())[:per_module]
    return chosen


def prepare(work: Path, modules: list[str], tests: list[str]) -> None:
    """A scratch project for mutmut: the package, the tests (tests/unit/ runs) and a pyproject naming the modules."""
    work.mkdir(parents=True, exist_ok=True)
    for part in (*TREES, "app.py"):
        shutil.rmtree(work / part, ignore_errors=True)
        (work / part).unlink(missing_ok=True)
    for part in TREES:  # tests read the app and the dev-only helpers too (devtools: moto patches, boundaries)
        if (ROOT / part).is_dir():
            shutil.copytree(ROOT / part, work / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "app.py", work / "app.py")
    for extra in tests:  # a test file from elsewhere (the gate's own check hands it a weak one)
        if not extra.startswith("tests/unit/"):
            target = work / "tests" / "unit" / Path(extra).name
            shutil.copy2(extra, target)
    selection = [t if t.startswith("tests/unit/") else f"tests/unit/{Path(t).name}" for t in tests]
    config = {
        "source_paths": ["chalicelib/"],
        "also_copy": ["app.py", *(f"{t}/" for t in TREES if t not in ("chalicelib", "tests"))],
        "only_mutate": modules,
        "pytest_add_cli_args_test_selection": selection or ["tests/unit/"],
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-p", "no:xdist"],
        "use_git_change_detection": False,
    }
    lines = [f"{k} = {json.dumps(v)}" for k, v in config.items()]
    base = (ROOT / "pyproject.toml").read_text().split("[tool.mutmut]")[0]
    (work / "pyproject.toml").write_text(base + "\n[tool.mutmut]\n" + "\n".join(lines) + "\n")
    kept = work / "mutants"  # a resumed run: mutmut copies new files in but leaves deleted ones behind
    for old in [p for part in TREES for p in (kept / part).rglob("*.py")]:
        if not (work / old.relative_to(kept)).exists():
            old.unlink()


def run_mutmut(work: Path, names: list[str], children: int) -> int:
    """`mutmut run` in the scratch project (derandomized hypothesis, so a verdict is the same every time)."""
    env = {**os.environ, "MKT_HYPOTHESIS_PROFILE": "derandomized", "PYTHONDONTWRITEBYTECODE": "1"}
    mutmut = Path(sys.executable).with_name("mutmut")
    cmd = [str(mutmut), "run", "--max-children", str(children), *names]
    with open(work / "mutmut.log", "w") as log:
        return subprocess.run(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, check=False).returncode


def scores(work: Path, modules: list[str], only: set[str] | None = None) -> list[Score]:
    """Per module, the status of each mutant (of `only`, when given) as mutmut recorded it."""
    from mutmut.stats import status_by_exit_code

    out: list[Score] = []
    for path in modules:
        meta = work / "mutants" / f"{path}.meta"
        codes = json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}
        statuses = {n: status_by_exit_code[c] for n, c in codes.items() if only is None or n in only}
        with inside(work):
            out.append(Score(path, work, statuses, excluded_count(path)))
    return out


def diff_of(work: Path, name: str, path: str) -> str:
    """The mutated lines of one mutant, as `mutmut show` prints them."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    with inside(work):
        lines = get_diff_for_mutant(name, path=path).split("\n")
    return "\n".join("      " + line for line in lines if line[:1] in "+-" and line[:3] not in ("+++", "---"))


def report(table: list[Score], show_survivors: bool) -> None:
    print(f"{'module':45} {'mutants':>7} {'killed':>6} {'survived':>8} {'excluded':>8} {'score':>7}")
    for s in table:
        print(f"{s.module:45} {s.tested:7d} {s.killed:6d} {len(s.survivors):8d} {s.excluded:8d} {s.rate:7.1%}")
    total_tested, total_killed = sum(s.tested for s in table), sum(s.killed for s in table)
    rate = total_killed / total_tested if total_tested else 1.0
    print(f"{'total':45} {total_tested:7d} {total_killed:6d} {total_tested - total_killed:8d} "
          f"{sum(s.excluded for s in table):8d} {rate:7.1%}")
    if show_survivors:
        for s in table:
            for name in s.survivors:
                print(f"  {s.statuses[name]}: {name}")
                print(diff_of(s.work, name, s.module))


def measure(work: Path, modules: list[str], tests: list[str], per_module: int | None, rerun: bool,
            children: int) -> list[Score] | None:
    """One mutmut run over `modules` in `work`: every mutant, a fixed sample, or the ones not killed last time."""
    rerun = rerun and all((work / "mutants" / f"{m}.meta").exists() for m in modules)  # else: a first full run
    if not rerun:
        shutil.rmtree(work / "mutants", ignore_errors=True)
    # Not killed last time, or not checked since their function changed.
    names = [n for s in scores(work, modules) for n, st in s.statuses.items() if st not in CAUGHT] if rerun else []
    prepare(work, modules, tests)
    if per_module:
        with inside(work):
            names = sample(modules, per_module)
    if not rerun or names:
        code = run_mutmut(work, names, children)
        if code != 0:
            print((work / "mutmut.log").read_text()[-3000:])
            print(f"mutation: mutmut exited {code} in {work}")
            return None
    return scores(work, modules, set(names) if per_module else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sample", type=int, metavar="N", help="only N mutants per module (fixed, for make test)")
    parser.add_argument("--module", action="append", help="a module path to mutate (default: every pure module)")
    parser.add_argument("--tests", action="append", default=[], help="test files to run (default: tests/unit/)")
    parser.add_argument("--work", type=Path, help="scratch directory kept between runs (default: a fresh one)")
    parser.add_argument("--rerun", action="store_true", help="in --work, run again every mutant not killed")
    parser.add_argument("--children", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args(argv)
    modules = args.module or list(MODULES)
    missing = [m for m in modules if not (ROOT / m).is_file()]
    if missing:  # a renamed module must be renamed here too, or its tests would silently go unmeasured
        print(f"mutation: no such module {', '.join(missing)} (update infra/mutation.py MODULES)")
        return 2
    started = time.monotonic()
    base = args.work or Path(tempfile.mkdtemp(prefix="mutation-"))
    # The sample is one run (one stats collection); the full measure is one run per module, each resumable.
    groups = [modules] if args.sample else [[m] for m in modules]
    table: list[Score] = []
    for group in groups:
        work = base / ("sample" if args.sample else Path(group[0]).with_suffix("").as_posix().replace("/", "."))
        found = measure(work, group, args.tests, args.sample, args.rerun, args.children)
        if found is None:
            return 2
        table += found
    report(table, show_survivors=True)
    tested, killed = sum(s.tested for s in table), sum(s.killed for s in table)
    rate = killed / tested if tested else 0.0
    low = [s.module for s in table if s.rate < THRESHOLD]
    kind = f"sample of {tested}" if args.sample else f"all {tested}"
    print(f"mutation: {kind} mutants, {killed} killed ({rate:.1%}) in {time.monotonic() - started:.0f} s")
    if args.work is None:
        shutil.rmtree(base, ignore_errors=True)
    if args.sample:
        ok = rate >= THRESHOLD
    else:
        ok = not low
        if low:
            print(f"mutation: below {THRESHOLD:.0%}: {', '.join(low)}")
    print(f"mutation: {'ok' if ok else f'FAILED (kill rate must be at least {THRESHOLD:.0%})'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
