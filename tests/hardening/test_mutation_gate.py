"""The mutation gate of `make test` can fail: a weak test set is caught, the real tests pass, the sample is fixed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from infra import mutation

ROOT = Path(__file__).resolve().parents[2]
MODULE = "chalicelib/reports/stats.py"
# Calls every function of the module and checks almost nothing: line coverage is complete, the tests are weak.
WEAK = '''
from chalicelib.reports.stats import interval, lift, rate


def test_everything_runs():
    assert lift(100, 30, 100, 10).status
    assert rate(1, 2) is not None
    assert interval(0.5, 10, 0.4, 10)
'''


def _gate(*tests: str) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "infra.mutation", "--sample", "10", "--module", MODULE, "--children", "1"]
    for test in tests:
        args += ["--tests", test]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


def test_the_sampled_gate_fails_on_a_weak_test_set_and_passes_on_the_real_one(tmp_path):
    weak = tmp_path / "test_weak_stats.py"
    weak.write_text(WEAK)
    caught = _gate(str(weak))
    assert caught.returncode == 1, caught.stdout + caught.stderr
    assert "FAILED (kill rate must be at least 90%)" in caught.stdout
    real = _gate("tests/unit/test_lift.py")
    assert real.returncode == 0, real.stdout + real.stderr
    assert "mutation: sample of 10 mutants" in real.stdout


def test_the_sample_is_the_same_every_time_and_spreads_over_every_module(tmp_path):
    mutation.prepare(tmp_path, list(mutation.MODULES), [])
    with mutation.inside(tmp_path):
        first = mutation.sample(list(mutation.MODULES), 3)
        again = mutation.sample(list(mutation.MODULES), 3)
        every = {n for m in mutation.MODULES for n in mutation.mutant_names((ROOT / m).read_text(), m)}
    assert first == again and len(first) == 3 * len(mutation.MODULES)
    assert set(first) <= every
    modules = {m.removesuffix(".py").replace("/", ".") for m in mutation.MODULES}
    assert {n.split(".x")[0] for n in first} == modules
