"""Every benchmark still runs: each script once at its tiny size, in databases of its own; no figure is checked.

A benchmark is a script under benchmarks/ that runs as ``__main__`` (the others are its helpers). ``make
benchmarks`` runs the same scripts at their full size.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = sorted(path for path in BENCHMARKS.glob("*.py") if 'if __name__ == "__main__":' in path.read_text())


def test_the_benchmarks_are_found():
    assert {"write_path.py", "search.py", "api.py"} <= {script.name for script in SCRIPTS}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda script: script.stem)
def test_the_benchmark_runs_at_its_tiny_size(script):
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("the benchmarks run on PostgreSQL only")
    env = {**os.environ, "BENCHMARK_SIZE": "tiny"}
    run = subprocess.run(  # noqa: S603 (our own scripts, by path)
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
