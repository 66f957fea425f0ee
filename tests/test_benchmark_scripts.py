"""Every benchmark script answers ``--help`` as a module (``python -m benchmarks.<kind>.<name>``):
exit status 0, its usage printed, nothing run and no result file written or touched.

All scripts run in one child process, each the way ``python -m`` runs it (``runpy`` with
``__main__`` as its name), so the heavy imports are paid once and the check stays quick."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
# Runs each module named on the command line as ``python -m`` would, with ``--help``, and
# prints a JSON object: module -> [exit status, what it printed].
RUN_EACH_WITH_HELP = """
import contextlib, io, json, runpy, sys
answers = {}
for name in sys.argv[1:]:
    printed = io.StringIO()
    sys.argv = [name, "--help"]
    status = 0
    with contextlib.redirect_stdout(printed):
        try:
            runpy.run_module(name, run_name="__main__", alter_sys=True)
        except SystemExit as stop:
            status = stop.code
    answers[name] = [status, printed.getvalue()]
print(json.dumps(answers))
"""


def modules() -> list[str]:
    """Every module of the benchmark sub-packages, by its dotted name."""
    paths = sorted((ROOT / "benchmarks").glob("*/*.py"))
    return [
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in paths
        if path.name != "__init__.py"
    ]


def is_script(module: str) -> bool:
    source = (ROOT / (module.replace(".", "/") + ".py")).read_text(encoding="utf-8")
    return 'if __name__ == "__main__":' in source


def results_state() -> dict[str, tuple[int, int]]:
    return {
        str(path.relative_to(RESULTS)): (path.stat().st_mtime_ns, path.stat().st_size)
        for path in RESULTS.rglob("*")
        if path.is_file()
    }


def test_every_module_is_a_script() -> None:
    """Helpers the scripts share live in the project (``run_logs``), never among the scripts."""
    found = modules()
    assert len(found) >= 20 and {"speed", "fidelity", "experiments", "reports"} == {
        name.split(".")[1] for name in found
    }
    assert [name for name in found if not is_script(name)] == []


def test_every_script_answers_help_without_running() -> None:
    scripts = [name for name in modules() if is_script(name)]
    before = results_state()
    done = subprocess.run(
        [sys.executable, "-c", RUN_EACH_WITH_HELP, *scripts],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answers = json.loads(done.stdout.splitlines()[-1])
    assert sorted(answers) == sorted(scripts)
    for name, (status, printed) in answers.items():
        assert status == 0, (name, printed)
        assert printed.startswith("usage: ") and "--help" in printed, (name, printed)
    assert results_state() == before, "a script wrote its results on --help"
