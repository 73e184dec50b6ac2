"""The benchmark keeps working as the runbooks change: `benchmarks/run.py` on one runbook, once.

Every method (the plain-bash floor, nbmake, papermill, validate cold and warm, the prose-only
rebuild) must run the runbook to its end, as `validate` does, and report a time. The runbook is
new-work-model: it has throwaway databases (metadata `databases`) and a final clean-tree check, so
a method that runs its demonstrations anywhere but on their own scratch databases fails here.
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from runbook import databases, executor, notebooks

REPO = Path(__file__).resolve().parents[1]
RUNBOOK = "new-work-model"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("benchmark_run", REPO / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_method_runs_the_runbook_and_reports_a_time(tmp_path):
    bench = load_benchmark()
    proc = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--runbook", RUNBOOK, "--engine", "sqlite", "--repeat", "1",
         "--results", str(tmp_path), "--no-target-check"],
        cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, f"benchmark failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    results = json.loads((tmp_path / "latest.json").read_text())
    assert results["runbooks"] == [RUNBOOK]
    assert sorted(results["methods"]) == sorted(bench.LABELS)
    for method, measured in results["methods"].items():
        assert len(measured["runs"]) == 1 and measured["runs"][0] > 0, f"{method} has no time: {measured}"
    assert (tmp_path / "latest.md").read_text().count("| ") > len(bench.LABELS)


@pytest.mark.parametrize("runbook", notebooks.all_runbooks(), ids=lambda r: r.slug)
def test_every_method_is_given_every_parameter_of_every_runbook(runbook, tmp_path):
    """Cheap, on every runbook (no kernel, no database): the floor's script leaves no parameter's
    `{name}` unfilled, and nbmake's copy keeps the parameters cell and sets what the runner injects."""
    bench = load_benchmark()
    throwaway = {name: databases.Database(f"sqlite:///{tmp_path}/{name}.sqlite3") for name in runbook.extra_databases}
    injected = executor.injected_values(tmp_path / "project", databases.Database(f"sqlite:///{tmp_path}/db.sqlite3"),
                                        throwaway)
    names = set(runbook.defaults) | set(injected)
    for engine in databases.ENGINES:
        script = bench.floor_script(runbook, engine, {**runbook.defaults, **injected})
        left = sorted(name for name in names if f"{{{name}}}" in script)
        assert not left, f"{runbook.slug} on {engine}: the floor's script leaves {left} unfilled"
        copy = nbformat.read(bench.engine_copy(runbook, engine, tmp_path / f"{engine}.ipynb", injected), as_version=4)
        tags = [node.metadata.get("tags", []) for node in copy.cells]
        at = next(i for i, t in enumerate(tags) if "parameters" in t)
        assert "injected-parameters" in tags[at + 1], f"{runbook.slug}: no injected parameters after the parameters cell"
        for name, value in injected.items():
            assert f"{name} = {value!r}" in copy.cells[at + 1].source, f"{runbook.slug}: nbmake's copy does not set {name}"
