"""The validation cache: a record is reused exactly while nothing it depends on changed.

Real `runbook validate` runs of small notebooks on SQLite (and PostgreSQL for the engine test),
isolated from the repository: the runbooks (RUNBOOK_DIR), a copy of the sample project
(RUNBOOK_SAMPLE_PROJECT), a copy of the lock (RUNBOOK_CONSTRAINTS) and the records (--records) all
live in a temporary folder. The first validation is done once per module and copied for each test.
Speed is measured by benchmarks/run.py, not asserted here.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from runbook import cache, notebooks, records

from .conftest import REPO, group_gone, require_server
from .notebook_builder import cell, write_runbook

RAN = re.compile(r"^▶ (\S+) on (\w+), Django 5\.2$", re.M)
CACHED = re.compile(r"^✓ cached: (\S+) on (\w+), Django 5\.2$", re.M)


@dataclass
class Validation:
    returncode: int
    output: str

    @property
    def ran(self) -> set[str]:
        return {f"{slug}/{engine}" for slug, engine in RAN.findall(self.output)}

    @property
    def cached(self) -> set[str]:
        return {f"{slug}/{engine}" for slug, engine in CACHED.findall(self.output)}

    @property
    def summary(self) -> str:
        return self.output.rstrip().splitlines()[-1]


@dataclass
class Workspace:
    root: Path

    @property
    def runbooks(self) -> Path:
        return self.root / "runbooks"

    @property
    def project(self) -> Path:
        return self.root / "project"

    @property
    def constraints(self) -> Path:
        return self.root / "constraints.txt"

    @property
    def records(self) -> Path:
        return self.root / "records"

    def validate(self, *args: str) -> Validation:
        env = {**os.environ, "RUNBOOK_DIR": str(self.runbooks), "RUNBOOK_SAMPLE_PROJECT": str(self.project),
               "RUNBOOK_CONSTRAINTS": str(self.constraints)}
        proc = subprocess.run(
            [sys.executable, "-m", "runbook.cli", "validate", "--django", "5.2", "--records", str(self.records), *args],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
        )
        return Validation(proc.returncode, proc.stdout + proc.stderr)

    def edit_notebook(self, slug: str, change) -> None:
        path = self.runbooks / f"{slug}.ipynb"
        nb = nbformat.read(path, as_version=4)
        change(nb)
        nbformat.write(nb, path)

    def inputs(self) -> cache.Inputs:
        return cache.Inputs(sample_project=self.project, constraints=self.constraints)


def code_cell(nb, cell_id: str):
    return next(c for c in nb.cells if c.get("id") == cell_id)


@pytest.fixture(scope="module")
def validated(tmp_path_factory) -> Workspace:
    """Runbooks `alpha` and `beta`, validated once on SQLite."""
    ws = Workspace(tmp_path_factory.mktemp("cache-base"))
    write_runbook(ws.runbooks, "alpha", [cell("hello", "!echo hello from alpha")])
    write_runbook(ws.runbooks, "beta", [cell("hello", "!echo hello from beta")])
    shutil.copytree(REPO / "sampleproject", ws.project,
                    ignore=shutil.ignore_patterns("__pycache__", "db.sqlite3", "finflo.log"))
    shutil.copy(REPO / "constraints.txt", ws.constraints)
    first = ws.validate("--jobs", "2")
    assert first.returncode == 0, first.output
    assert first.ran == {"alpha/sqlite", "beta/sqlite"}, first.output
    return ws


@pytest.fixture
def ws(validated, tmp_path) -> Workspace:
    """A copy of the validated workspace to change (keys hold no paths, so the copy's records match)."""
    shutil.copytree(validated.root, tmp_path / "ws")
    return Workspace(tmp_path / "ws")


# -- nothing changed: nothing runs ---------------------------------------------------------------

def test_nothing_changed_reuses_every_record(ws):
    before = (ws.records / "alpha" / "django-5.2" / "sqlite.json").read_text()
    again = ws.validate()
    assert again.returncode == 0, again.output
    assert again.ran == set()
    assert again.cached == {"alpha/sqlite", "beta/sqlite"}
    assert again.summary == "2 passed, 0 failed"
    assert (ws.records / "alpha" / "django-5.2" / "sqlite.json").read_text() == before


def test_records_carry_the_key_the_site_checks(ws):
    record = records.load("alpha", "sqlite", ws.records)
    runbook = notebooks.load(ws.runbooks / "alpha.ipynb")
    assert record.cache_key and re.fullmatch(r"[0-9a-f]{64}", record.cache_key)
    assert cache.is_fresh(record, runbook, ws.inputs())
    ws.edit_notebook("alpha", lambda nb: setattr(code_cell(nb, "hello"), "source", "!echo changed"))
    assert not cache.is_fresh(record, notebooks.load(ws.runbooks / "alpha.ipynb"), ws.inputs())


# -- each kind of change re-runs exactly what it affects -----------------------------------------

def test_code_cell_source_change_reruns_only_that_runbook(ws):
    ws.edit_notebook("alpha", lambda nb: setattr(code_cell(nb, "hello"), "source", "!echo hello again"))
    again = ws.validate()
    assert again.returncode == 0, again.output
    assert again.ran == {"alpha/sqlite"}
    assert again.cached == {"beta/sqlite"}
    assert records.load("alpha", "sqlite", ws.records).cell("hello").output == "hello again\n"


def test_cell_metadata_change_reruns_only_that_runbook(ws):
    ws.edit_notebook("beta", lambda nb: code_cell(nb, "hello").metadata["runbook"].update(timeout=60))
    again = ws.validate()
    assert (again.ran, again.cached) == ({"beta/sqlite"}, {"alpha/sqlite"}), again.output


def test_runbook_metadata_change_reruns_only_that_runbook(ws):
    ws.edit_notebook("beta", lambda nb: nb.metadata["runbook"].update(destructive=True))
    again = ws.validate()
    assert (again.ran, again.cached) == ({"beta/sqlite"}, {"alpha/sqlite"}), again.output


def test_markdown_cell_edit_and_outputs_rerun_nothing(ws):
    def prose(nb):
        nb.cells.insert(2, nbformat.v4.new_markdown_cell("Now say hello."))
        nb.metadata["language_info"] = {"name": "python"}
    ws.edit_notebook("alpha", prose)
    again = ws.validate()
    assert (again.ran, again.cached) == (set(), {"alpha/sqlite", "beta/sqlite"}), again.output


def test_sample_project_change_reruns_every_runbook(ws):
    settings = ws.project / "config" / "settings.py"
    settings.write_text(settings.read_text() + "\n# a comment changes the project\n")
    again = ws.validate()
    assert (again.ran, again.cached) == ({"alpha/sqlite", "beta/sqlite"}, set()), again.output


def test_sample_project_files_the_runs_make_do_not_count(ws):
    (ws.project / "db.sqlite3").write_bytes(b"made by running in place")
    (ws.project / "finflo.log").write_text("log\n")
    (ws.project / "config" / "__pycache__").mkdir()
    (ws.project / "config" / "__pycache__" / "settings.cpython-311.pyc").write_bytes(b"\0")
    again = ws.validate()
    assert (again.ran, again.cached) == (set(), {"alpha/sqlite", "beta/sqlite"}), again.output


def test_locked_dependency_change_reruns_every_runbook(ws):
    text = ws.constraints.read_text()
    pin = re.search(r"^nbclient==\S+$", text, re.M).group()
    ws.constraints.write_text(text.replace(pin, "nbclient==0.0.1"))
    again = ws.validate()
    assert (again.ran, again.cached) == ({"alpha/sqlite", "beta/sqlite"}, set()), again.output


def test_installed_dependency_version_changes_the_key(ws, monkeypatch):
    runbook = notebooks.load(ws.runbooks / "alpha.ipynb")
    record = records.load("alpha", "sqlite", ws.records)
    assert cache.is_fresh(record, runbook, ws.inputs())
    real = cache.installed_versions()
    for name in cache.DEPENDENCIES:
        monkeypatch.setattr(cache, "installed_versions", lambda name=name: {**real, name: "999.0"})
        assert not cache.is_fresh(record, runbook, ws.inputs()), name


def test_server_version_changes_the_key(ws):
    runbook = notebooks.load(ws.runbooks / "alpha.ipynb")
    record = records.load("alpha", "sqlite", ws.records)
    recorded = record.versions["sqlite"]
    assert cache.is_fresh(record, runbook, ws.inputs(), server_version=recorded)
    assert not cache.is_fresh(record, runbook, ws.inputs(), server_version=recorded + ".1")


def test_another_engine_runs_and_leaves_the_first_engines_records_alone(ws):
    require_server("postgresql")
    both = ws.validate("--engine", "sqlite", "--engine", "postgresql")
    assert both.returncode == 0, both.output
    assert both.ran == {"alpha/postgresql", "beta/postgresql"}
    assert both.cached == {"alpha/sqlite", "beta/sqlite"}
    ws.edit_notebook("alpha", lambda nb: code_cell(nb, "hello").metadata["runbook"].update(engines=["sqlite"]))
    again = ws.validate("--engine", "sqlite", "--engine", "postgresql")
    assert again.ran == {"alpha/sqlite", "alpha/postgresql"}, again.output
    assert again.cached == {"beta/sqlite", "beta/postgresql"}


# -- failures and --no-cache ---------------------------------------------------------------------

def test_failed_record_is_never_reused(ws):
    write_runbook(ws.runbooks, "gamma", [cell("boom", "!echo failing && exit 3")])
    first = ws.validate()
    assert first.returncode == 1
    assert (first.ran, first.summary) == ({"gamma/sqlite"}, "2 passed, 1 failed"), first.output
    again = ws.validate()
    assert again.returncode == 1
    assert (again.ran, again.cached) == ({"gamma/sqlite"}, {"alpha/sqlite", "beta/sqlite"}), again.output
    assert again.summary == "2 passed, 1 failed"


def test_unreadable_record_is_rerun(ws):
    (ws.records / "alpha" / "django-5.2" / "sqlite.json").write_text('{"runbook": "alpha"')
    again = ws.validate()
    assert (again.ran, again.cached) == ({"alpha/sqlite"}, {"beta/sqlite"}), again.output
    assert records.load("alpha", "sqlite", ws.records).passed


def test_no_cache_reruns_everything(ws):
    again = ws.validate("--no-cache")
    assert again.returncode == 0, again.output
    assert (again.ran, again.cached) == ({"alpha/sqlite", "beta/sqlite"}, set())


# -- parallel runs -------------------------------------------------------------------------------

def test_the_mode_is_part_of_the_key(ws):
    """Preloaded records (the default) never pass for real-process ones, nor the other way round."""
    assert records.load("alpha", "sqlite", ws.records).mode == "preloaded"
    real = ws.validate("--no-preload")
    assert real.ran == {"alpha/sqlite", "beta/sqlite"} and real.cached == set(), real.output
    record = records.load("alpha", "sqlite", ws.records)
    assert (record.mode, record.preload) == ("processes", None)
    assert ws.validate("--no-preload").cached == {"alpha/sqlite", "beta/sqlite"}
    back = ws.validate()
    assert back.ran == {"alpha/sqlite", "beta/sqlite"}, back.output
    assert records.load("alpha", "sqlite", ws.records).mode == "preloaded"


def test_parallel_validate_gives_the_sequential_outcomes_in_one_block_per_run(tmp_path):
    ws = Workspace(tmp_path)
    for slug in ("one", "two", "three"):
        write_runbook(ws.runbooks, slug, [
            cell("first", f"!echo {slug} starts && sleep 0.5"),
            cell("second", f"!echo {slug} ends"),
        ])
    write_runbook(ws.runbooks, "four", [cell("boom", "!echo four fails && exit 3"), cell("never", "!echo no")])
    shutil.copytree(REPO / "sampleproject", ws.project,
                    ignore=shutil.ignore_patterns("__pycache__", "db.sqlite3", "finflo.log"))
    shutil.copy(REPO / "constraints.txt", ws.constraints)

    sequential = ws.validate("--jobs", "1", "--verbose")
    sequential_records = _outcomes(ws.records)
    shutil.rmtree(ws.records)
    parallel = ws.validate("--jobs", "3", "--verbose")

    assert sequential.returncode == parallel.returncode == 1
    assert sequential.summary == parallel.summary == "3 passed, 1 failed"
    assert _outcomes(ws.records) == sequential_records
    assert sequential_records["four"] == ("failed", {"parameters": "passed", "setup": "passed",
                                                     "boom": "failed", "never": "not-run"})
    # Each run's lines come together: its header, its cells and output, then its verdict.
    blocks = _blocks(parallel.output)
    assert sorted(blocks) == ["four", "one", "three", "two"], parallel.output
    for slug, lines in blocks.items():
        verdict = next(i for i, ln in enumerate(lines) if ln.startswith(("✓ passed: ", "✗ FAILED: ")))
        assert lines[verdict].split(": ")[1].startswith(f"{slug} on sqlite"), parallel.output
        assert all(ln.startswith("  ") for ln in lines[verdict + 1:]), parallel.output
        mentioned = set(re.findall(r"\b(one|two|three|four)\b", "\n".join(lines)))
        assert mentioned == {slug}, parallel.output


def _outcomes(folder: Path) -> dict[str, tuple[str, dict[str, str]]]:
    found = {}
    for path in folder.glob("*/django-5.2/sqlite.json"):
        record = records.RunRecord.from_json(path.read_text())
        found[record.runbook] = (record.outcome, {c.id: c.outcome for c in record.cells})
    return found


def _blocks(output: str) -> dict[str, list[str]]:
    """The lines from each `▶ slug` header up to the next header or the summary."""
    blocks: dict[str, list[str]] = {}
    current = None
    for line in output.splitlines():
        header = RAN.match(line)
        if header:
            current = header.group(1)
            assert current not in blocks, f"{current} printed twice:\n{output}"
            blocks[current] = []
        elif re.fullmatch(r"\d+ passed, \d+ failed", line):
            current = None
        elif current is not None:
            blocks[current].append(line)
    return blocks


def test_ctrl_c_stops_every_parallel_run_and_cleans_up(tmp_path):
    ws = Workspace(tmp_path)
    for slug in ("nap-one", "nap-two"):
        write_runbook(ws.runbooks, slug, [cell("nap", f"!echo $$ > {tmp_path / slug}.pid; sleep 600")])
    shutil.copytree(REPO / "sampleproject", ws.project,
                    ignore=shutil.ignore_patterns("__pycache__", "db.sqlite3", "finflo.log"))
    shutil.copy(REPO / "constraints.txt", ws.constraints)
    env = {**os.environ, "RUNBOOK_DIR": str(ws.runbooks), "RUNBOOK_SAMPLE_PROJECT": str(ws.project),
           "RUNBOOK_CONSTRAINTS": str(ws.constraints)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "runbook.cli", "validate", "--django", "5.2", "--jobs", "2", "--records", str(ws.records)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    pids = [tmp_path / "nap-one.pid", tmp_path / "nap-two.pid"]
    deadline = time.monotonic() + 120
    while not all(p.exists() and p.read_text().strip() for p in pids):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)  # to the parent alone, as `kill -INT` does
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stdout + stderr
    assert "temporary databases and folders were removed" in stderr
    for pid in pids:  # each sleep ran in a session of its own; it was killed with its run
        assert group_gone(int(pid.read_text())), f"the command of {pid.stem} still runs"
    # Both runs reported, each as one block, and neither left a record that could be reused.
    assert Validation(0, stdout).ran == {"nap-one/sqlite", "nap-two/sqlite"}, stdout
    for slug in ("nap-one", "nap-two"):
        record = records.load(slug, "sqlite", ws.records)
        assert record is None or not record.passed


