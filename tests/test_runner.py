"""The runner: real notebooks executed with nbclient on real databases, judged cell by cell."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from runbook import databases, notebooks
from runbook.errors import BadInput
from runbook.executor import RunOptions, run
from runbook.records import RunRecord

from .conftest import REPO
from .notebook_builder import cell, write_runbook


def run_cells(tmp_path, cells, engine="sqlite", **options) -> RunRecord:
    path = write_runbook(tmp_path / "runbooks", "probe", cells)
    return run(notebooks.load(path), RunOptions(engine=engine, **options))


def outcomes(record: RunRecord) -> dict[str, str]:
    return {c.id: c.outcome for c in record.cells}


# -- commands fail the run --------------------------------------------------------------------

def test_failing_bang_command_fails_the_run_and_stops_it(tmp_path):
    record = run_cells(tmp_path, [
        cell("fails", "!python manage.py dbflush"),
        cell("after", "!echo never"),
    ])
    assert record.outcome == "failed"
    assert outcomes(record)["fails"] == "failed"
    assert outcomes(record)["after"] == "not-run"
    failed = record.cell("fails")
    assert failed.exit == 1
    assert "Unknown command: 'dbflush'. Did you mean flush?" in failed.output
    assert record.error.startswith("runbook 'probe', cell 'fails' (python manage.py dbflush) on sqlite:")


def test_failing_command_in_a_bash_cell_fails_the_run(tmp_path):
    record = run_cells(tmp_path, [cell("bash", "%%bash\necho before\nexit 3\n")])
    assert record.outcome == "failed"
    assert record.cell("bash").exit == 3
    assert "CalledProcessError" in record.error


def test_python_error_fails_the_run(tmp_path):
    record = run_cells(tmp_path, [cell("boom", "raise RuntimeError('boom')")])
    assert record.outcome == "failed"
    assert "RuntimeError: boom" in record.error


# -- asserted expected failures ---------------------------------------------------------------

def test_expected_failure_that_happens_passes(tmp_path):
    record = run_cells(tmp_path, [
        cell("unknown", "!python manage.py dbflush", exit=1, output=r"Unknown command: 'dbflush'"),
        cell("after", "!echo still running"),
    ])
    assert record.outcome == "passed", record.error
    assert outcomes(record) == {"parameters": "passed", "setup": "passed",
                                "unknown": "expected-failure", "after": "passed"}


def test_expected_failure_that_does_not_happen_fails_the_run(tmp_path):
    record = run_cells(tmp_path, [cell("ok", "!python manage.py check", exit=1, output="Error")])
    assert record.outcome == "failed"
    assert "expected exit status 1, but the cell succeeded" in record.error


def test_expected_failure_with_another_exit_code_fails_the_run(tmp_path):
    record = run_cells(tmp_path, [cell("exit2", "!exit 2", exit=1, output=r"(?s).*")])
    assert record.outcome == "failed"
    assert "expected exit status 1, got CommandFailed: exit status 2" in record.error


def test_expected_failure_with_another_message_fails_the_run(tmp_path):
    record = run_cells(tmp_path, [cell("other", "!python manage.py dbflush", exit=1, output="CircularDependencyError")])
    assert record.outcome == "failed"
    assert "output does not match /CircularDependencyError/" in record.error


def test_successful_cell_output_is_asserted_too(tmp_path):
    record = run_cells(tmp_path, [cell("check", "!python manage.py check", output="No changes detected")])
    assert record.outcome == "failed"
    assert "output does not match /No changes detected/" in record.error


def test_allowing_an_error_without_asserting_it_is_refused(tmp_path):
    path = write_runbook(tmp_path, "lenient", [cell("lenient", "!false", tags=["raises-exception"])])
    with pytest.raises(BadInput, match="needs both the 'raises-exception' tag and runbook.expect.exit"):
        notebooks.load(path)


# -- timeouts ---------------------------------------------------------------------------------

def test_hung_command_is_killed_at_the_cell_timeout(tmp_path):
    pid_file = tmp_path / "sleeper.pid"
    start = time.monotonic()
    record = run_cells(tmp_path, [
        cell("hangs", f"!echo $$ > {pid_file}; exec sleep 600", timeout=3),
    ])
    assert time.monotonic() - start < 60
    assert record.outcome == "failed"
    assert record.cell("hangs").outcome == "timeout"
    assert record.error.startswith(f"runbook 'probe', cell 'hangs' (echo $$ > {pid_file}; exec sleep 600) on sqlite: timed out")
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_run_timeout_stops_the_runbook(tmp_path):
    # The run's clock starts before the kernel does, and a kernel takes longer than 0.2 s to start:
    # the deadline has passed before the first cell, so only the run-timeout check can stop it (no
    # cell starts, so no cell can time out).
    record = run_cells(tmp_path, [cell("nap", "!sleep 5")], run_timeout=0.2)
    assert record.error == "runbook 'probe', cell 'parameters' on sqlite: run timeout of 0.2s reached", (
        f"the run was not stopped by its run timeout before the first cell: {record.error}")
    assert record.outcome == "failed"
    assert outcomes(record) == {"parameters": "not-run", "setup": "not-run", "nap": "not-run"}


def test_a_cell_still_running_at_the_run_timeout_is_killed_then(tmp_path):
    # The cell's own timeout (300 s) is cut to what is left of the run: the cell times out, as a cell.
    start = time.monotonic()
    record = run_cells(tmp_path, [cell("nap", "!sleep 600"), cell("after", "!echo never")], run_timeout=20)
    assert time.monotonic() - start < 60, "the cell was not killed at the run's deadline"
    assert record.cell("nap").outcome == "timeout", record.error
    assert record.error.startswith("runbook 'probe', cell 'nap' (sleep 600) on sqlite: timed out: no result after "), record.error
    assert outcomes(record)["after"] == "not-run"


# -- isolation --------------------------------------------------------------------------------

IDENTITY = """import json, os
from urllib.parse import urlsplit
with open(identity_file, "w") as f:
    json.dump({"project": os.path.realpath(project_dir), "cwd": os.getcwd(), "database_url": database_url}, f)"""


def test_each_run_gets_a_fresh_project_and_database_that_are_removed_after(tmp_path, engine):
    """Two runs of one runbook: each names (in a file of the test's) the project folder and database
    it got; they differ, each database starts empty, and neither is left after its run."""
    path = write_runbook(tmp_path / "runbooks", "probe", [
        cell("identity", IDENTITY),
        # A database another run has migrated would show [X] here.
        cell("fresh", "!python manage.py showmigrations accounts"),
        cell("migrate", "!python manage.py migrate -v0"),
        cell("fail", "!false"),
    ], extra_parameters='identity_file = ""\n')
    rb = notebooks.load(path)
    server = databases.Database(databases.SERVER_URLS[engine]) if engine != "sqlite" else None
    runs = []
    for i in range(2):
        identity_file = tmp_path / f"identity-{i}.json"
        record = run(rb, RunOptions(engine=engine, parameters={"identity_file": str(identity_file)}))
        assert record.outcome == "failed" and record.cell("fail").outcome == "failed", record.error
        assert record.cell("migrate").outcome == "passed", record.error
        assert record.cell("fresh").output.strip() == "accounts\n [ ] 0001_initial\n [ ] 0002_links_to_finflo_and_transaction", (
            f"run {i} did not start on an empty database: {record.cell('fresh').output!r}")
        seen = json.loads(identity_file.read_text())
        assert seen["cwd"] == seen["project"], seen
        runs.append(seen)
        database = databases.Database(seen["database_url"])
        assert database.engine == engine
        # Removed once the run is over, the failed run too.
        assert not Path(seen["project"]).exists(), f"run {i} left its project copy {seen['project']}"
        if engine == "sqlite":
            file = Path("/" + database.name.lstrip("/"))  # sqlite:////abs/path names //abs/path
            assert not file.exists(), f"run {i} left its SQLite file {file}"
            assert file.parent == Path(seen["project"]).parent, f"run {i}'s SQLite file {file} is not in its own run folder"
        else:
            assert database.name.startswith("rb_probe_"), database.name
            assert database.name not in _server_databases(server), f"run {i} left its database {database.name}"
    assert runs[0]["project"] != runs[1]["project"], f"both runs used the project folder {runs[0]['project']}"
    assert runs[0]["database_url"] != runs[1]["database_url"], f"both runs used the database {runs[0]['database_url']}"
    assert Path(runs[0]["project"]).resolve() != (REPO / "sampleproject").resolve()


def _server_databases(server) -> list[str]:
    with databases._connect(server) as conn, conn.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database" if server.engine == "postgresql" else "SHOW DATABASES")
        return [row[0] for row in cur.fetchall()]


def test_runs_never_touch_the_sample_project(tmp_path):
    before = _tree_snapshot(REPO / "sampleproject")
    record = run_cells(tmp_path, [
        cell("edit", 'replace_in_file("config/settings.py", old="DEBUG = True", new="DEBUG = False")'),
        cell("migrate", "!python manage.py migrate -v0"),
    ])
    assert record.outcome == "passed", record.error
    assert _tree_snapshot(REPO / "sampleproject") == before


def _tree_snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- inspecting the state a cell left (RunOptions.inspect_after) -------------------------------

def test_inspect_after_sees_the_project_and_database_a_cell_left(tmp_path):
    seen = []

    def inspect(state):
        # The state exists while the function runs: the cell's file and the migrated database.
        tables = subprocess.run([sys.executable, "manage.py", "showmigrations", "accounts"], cwd=state.project,
                                env={**os.environ, "DATABASE_URL": state.database_url}, capture_output=True, text=True)
        seen.append((state.cell, (state.project / "marker").read_text(), tables.stdout))

    record = run_cells(tmp_path, [
        cell("write", "!echo one > marker"),
        cell("migrate", "!python manage.py migrate -v0"),
        cell("rewrite", "!echo two > marker"),
        cell("after", "!echo three > marker"),
    ], inspect_after={"write": inspect, "migrate": inspect, "rewrite": inspect})
    assert [(cell_id, marker) for cell_id, marker, _ in seen] == [
        ("write", "one\n"), ("migrate", "one\n"), ("rewrite", "two\n")]
    assert "[ ] 0001_initial" in seen[0][2] and "[X] 0001_initial" in seen[1][2]
    assert record.passed, record.error
    assert outcomes(record) == {"parameters": "passed", "setup": "passed", "write": "passed", "migrate": "passed",
                                "rewrite": "passed", "after": "passed"}


def test_an_inspection_that_fails_ends_the_run_and_reaches_the_caller(tmp_path):
    def inspect(state):
        raise AssertionError(f"wrong state after {state.cell}")

    with pytest.raises(AssertionError, match="wrong state after first"):
        run_cells(tmp_path, [cell("first", "!echo 1"), cell("second", "!echo 2")], inspect_after={"first": inspect})


def test_a_misspelt_cell_to_inspect_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="has no cell 'nope'"):
        run_cells(tmp_path, [cell("only", "!echo 1")], inspect_after={"nope": print})


# -- parameters, records, the executed notebook ------------------------------------------------

def test_parameters_are_injected_after_the_parameters_cell(tmp_path):
    path = write_runbook(tmp_path / "runbooks", "params", [cell("greet", "!echo {greeting}", output="^bonjour$")],
                         extra_parameters='greeting = "hello"\n')
    record = run(notebooks.load(path), RunOptions(parameters={"greeting": "bonjour"}, save_notebook=tmp_path / "out.ipynb"))
    assert record.outcome == "passed", record.error
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert executed.cells[0].metadata.tags == ["parameters"]
    injected = executed.cells[1]
    assert injected.metadata.tags == ["injected-parameters"]
    assert "greeting = 'bonjour'" in injected.source


def test_committed_runbooks_carry_no_outputs():
    for path in sorted((REPO / "runbooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for node in nb.cells:
            if node.cell_type == "code":
                assert node.outputs == [] and node.execution_count is None, f"{path.name}: cell {node.id} has outputs"


def test_committed_runbooks_load_and_name_every_cell():
    for rb in notebooks.all_runbooks(REPO / "runbooks"):
        assert rb.title.startswith("How to"), rb.slug
        assert all(c.id and not c.id.startswith("cell-") for c in rb.cells), rb.slug


# -- the CLI ----------------------------------------------------------------------------------

def cli(*args: str, env: dict | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "runbook.cli", *args], cwd=cwd, capture_output=True, text=True,
        env={**os.environ, **(env or {})}, timeout=600,
    )


def test_list_names_runbooks_pages_and_destructive_ones():
    result = cli("list")
    assert result.returncode == 0, result.stderr
    # What each notebook itself declares, read without the runner.
    declared = {}
    for path in sorted((REPO / "runbooks").glob("*.ipynb")):
        meta = json.loads(path.read_text())["metadata"]["runbook"]
        declared[path.stem] = (meta["title"], bool(meta.get("destructive", False)))
    assert {d for _, d in declared.values()} == {True, False}, "the runbooks should include both kinds"
    lines = result.stdout.splitlines()
    assert len(lines) == len(declared), result.stdout
    for line, (slug, (title, destructive)) in zip(lines, declared.items()):
        fields = line.split(maxsplit=2)
        assert fields[:2] == [slug, f"how-to/{slug}.md"], line
        listed = fields[2].startswith("destructive ")
        assert listed == destructive, f"{slug} is listed as {'destructive' if listed else 'not destructive'}: {line!r}"
        assert fields[2].removeprefix("destructive").strip() == title, line


def test_every_command_has_help():
    for command in ("list", "run", "validate"):
        result = cli(command, "--help")
        assert result.returncode == 0 and "usage: runbook" in result.stdout


def test_validate_writes_a_record_per_run(tmp_path):
    """By default on every Django version, each in its own environment: one record per version."""
    write_runbook(tmp_path / "runbooks", "probe", [cell("check", "!python manage.py check && python -m django --version")])
    result = cli("validate", "probe", "--records", str(tmp_path / "records"),
                 env={"RUNBOOK_DIR": str(tmp_path / "runbooks")})
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("2 passed, 0 failed")
    for series in ("4.2", "5.2"):
        assert f"▶ probe on sqlite, Django {series}" in result.stdout
        data = json.loads((tmp_path / f"records/probe/django-{series}/sqlite.json").read_text())
        assert data["generated_by"] == "runbook validate"
        assert data["outcome"] == "passed" and data["engine"] == "sqlite" and data["django"] == series
        assert set(data["versions"]) == {"django", "finflo", "sqlite"}
        assert data["versions"]["django"].startswith(series + ".")
        # Preloaded by default: the record says so, and the command was served by a fork.
        assert (data["mode"], data["preload"]) == ("preloaded", {"forked": 1, "real": 0, "reasons": {}})
        check = next(c for c in data["cells"] if c["id"] == "check")
        assert check["outcome"] == "passed" and check["duration"] > 0
        assert "System check identified no issues" in check["output"]
        # The commands ran with that version's Django, not the runner's.
        assert check["output"].rstrip().endswith(data["versions"]["django"])


def test_validate_refuses_a_django_version_it_does_not_know(tmp_path):
    result = cli("validate", "--django", "3.2", "--records", str(tmp_path / "records"))
    assert result.returncode == 2
    assert result.stderr.strip() == "error: unknown Django version '3.2': choose from 4.2, 5.2"
    assert not (tmp_path / "records").exists()


def test_validate_exits_1_when_a_runbook_fails(tmp_path):
    write_runbook(tmp_path / "runbooks", "broken", [cell("fails", "!exit 4")])
    result = cli("validate", "broken", "--django", "5.2", "--records", str(tmp_path / "records"),
                 env={"RUNBOOK_DIR": str(tmp_path / "runbooks")})
    assert result.returncode == 1
    assert "0 passed, 1 failed" in result.stdout
    assert "runbook 'broken', cell 'fails' (exit 4) on sqlite: CommandFailed: exit status 4: exit 4" in result.stdout


def test_run_shows_each_cell_as_it_runs(tmp_path):
    write_runbook(tmp_path / "runbooks", "probe", [cell("check", "!python manage.py check")])
    result = cli("run", "probe", "--output", str(tmp_path / "probe.ipynb"), env={"RUNBOOK_DIR": str(tmp_path / "runbooks")})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "▶ probe on sqlite" in result.stdout
    assert "  $ python manage.py check" in result.stdout
    assert "  │ System check identified no issues (0 silenced)." in result.stdout
    assert "✓ passed: probe on sqlite" in result.stdout
    assert (tmp_path / "probe.ipynb").is_file()


def test_operator_mode_runs_in_place_against_the_given_database(tmp_path):
    from runbook.executor import copy_sample_project

    own = copy_sample_project(tmp_path / "own")
    sample_files = sorted(p.name for p in (REPO / "sampleproject").iterdir())
    write_runbook(tmp_path / "runbooks", "probe", [
        cell("migrate", "!python manage.py migrate -v0"),
        cell("where", "!pwd > where.txt", writes=["where.txt"]),
    ])
    url = f"sqlite:///{tmp_path / 'own.sqlite3'}"
    result = cli("run", "probe", "--project", str(own), "--database-url", url, "-q",
                 "--output", str(tmp_path / "out.ipynb"), env={"RUNBOOK_DIR": str(tmp_path / "runbooks")})
    assert result.returncode == 0, result.stdout + result.stderr
    # The commands ran in the operator's own folder (not in a copy of the sample) ...
    assert (own / "where.txt").is_file(), "the run did not happen in the given project (--project ignored?)"
    assert (own / "where.txt").read_text().strip() == str(own.resolve())
    # ... against the given database, which now has the project's migrations applied ...
    import sqlite3
    with contextlib.closing(sqlite3.connect(tmp_path / "own.sqlite3")) as db:
        assert db.execute("SELECT count(*) FROM django_migrations WHERE app = 'finflo'").fetchone()[0] == 3
    # ... and the sample project was left alone.
    assert sorted(p.name for p in (REPO / "sampleproject").iterdir()) == sample_files
    assert not (REPO / "sampleproject" / "where.txt").exists()


def test_destructive_runbook_refuses_an_operator_project_without_the_flag(tmp_path):
    from runbook.executor import copy_sample_project

    own = copy_sample_project(tmp_path / "own")
    before = _tree_snapshot(own)
    result = cli("run", "reset-database", "--project", str(own))
    assert result.returncode == 2
    assert result.stderr == (
        "error: runbook 'reset-database' deletes data or migrations; against your own project "
        "it runs only with --allow-destructive\n"
    )
    assert _tree_snapshot(own) == before


@pytest.mark.parametrize("args, message", [
    (["run", "no-such-runbook"], "error: unknown runbook 'no-such-runbook' (known: "),
    (["run", "new-work-model", "--project", "/tmp"], "error: not a Django project (no manage.py): /tmp"),
    (["run", "circular-dependency", "-p", "oops"], "error: malformed parameter 'oops': use -p name=value"),
    (["run", "circular-dependency", "--database-url", "postgres://postgres@127.0.0.1:9/x"],
     "error: cannot reach the postgresql server at 127.0.0.1: "),
    (["run", "circular-dependency", "--database-url", "oracle://x/y"], "error: unsupported database URL scheme 'oracle'"),
    (["validate", "--engine", "oracle"], "error: argument --engine: invalid choice: 'oracle'"),
    (["run", "circular-dependency", "--cell-timeout", "-1"], "error: argument --cell-timeout: must be positive: '-1'"),
    (["frobnicate"], "error: argument COMMAND: invalid choice: 'frobnicate'"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = cli(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(message), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == ""


def test_a_notebook_that_is_not_json_is_bad_input(tmp_path):
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks/garbled.ipynb").write_text("{not json")
    result = cli("run", "garbled", env={"RUNBOOK_DIR": str(tmp_path / "runbooks")})
    assert result.returncode == 2
    assert result.stderr == "error: runbook garbled.ipynb is not a Jupyter notebook (invalid JSON)\n"


def test_the_kernel_talks_over_ipc_not_tcp(tmp_path):
    record = run_cells(tmp_path, [cell(
        "transport", "from ipykernel.connect import get_connection_info\nprint(get_connection_info(unpack=True)['transport'])",
        output="^ipc$",
    )])
    assert record.outcome == "passed", record.error
