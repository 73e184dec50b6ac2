"""Faults during a run: the kernel dies, a command hangs, the database server stops, SIGINT, two
validations at once. Each ends with a message naming the runbook, the cell and the engine, a
non-zero exit, and no scratch database, temporary folder or command left behind.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from runbook import databases
from runbook.errors import BadInput

from .conftest import IN_CI, REPO, group_gone
from .notebook_builder import cell, write_runbook

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def runbook_cli(*args: str, env: dict | None = None, **popen) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runbook.cli", *args], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=600, **popen)


def leftovers(slug: str, servers: list[databases.Database] | None = None) -> list[str]:
    """Scratch databases and temporary folders of runbook ``slug`` that still exist."""
    label = databases._identifier(slug)
    found = [str(p) for p in Path(tempfile.gettempdir()).glob(f"runbook-{slug}-*")]
    if servers is None:
        servers = []
        for engine in ("postgresql", "mariadb"):
            server = databases.Database(databases.SERVER_URLS[engine])
            try:
                server.check_reachable()
            except BadInput as exc:  # seeing nothing there is no proof that nothing was left
                pytest.fail(f"cannot check {engine} for leftover scratch databases of {slug!r}: {exc}")
            servers.append(server)
    for server in servers:
        with databases._connect(server) as conn, conn.cursor() as cur:
            cur.execute("SELECT datname FROM pg_database" if server.engine == "postgresql" else "SHOW DATABASES")
            found += [row[0] for row in cur.fetchall() if row[0].startswith(f"rb_{label}_")]
    return found


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# -- the kernel dies ------------------------------------------------------------------------------

def test_the_kernel_dying_mid_run_fails_it_cleanly(tmp_path, engine):
    runbooks = tmp_path / "runbooks"
    write_runbook(runbooks, "fault-kernel", [
        cell("migrate", "!python manage.py migrate -v0"),
        cell("die", "import os; os.kill(os.getpid(), 9)"),
        cell("after", "!echo never"),
    ])
    result = runbook_cli("validate", "fault-kernel", "--django", "5.2", "--engine", engine, "--records", str(tmp_path / "records"),
                         "--no-cache", env={"RUNBOOK_DIR": str(runbooks)})
    assert result.returncode == 1, result.stdout + result.stderr
    message = f"runbook 'fault-kernel', cell 'die' on {engine}: the kernel died"
    assert message in result.stdout
    record = json.loads((tmp_path / "records" / "fault-kernel" / "django-5.2" / f"{engine}.json").read_text())
    assert record["outcome"] == "failed" and record["error"] == message
    assert {c["id"]: c["outcome"] for c in record["cells"]} == {
        "parameters": "passed", "setup": "passed", "migrate": "passed", "die": "failed", "after": "not-run"}
    assert (REPO / ".runbook" / "executed" / f"fault-kernel-{engine}-django-5.2.ipynb").is_file()
    (REPO / ".runbook" / "executed" / f"fault-kernel-{engine}-django-5.2.ipynb").unlink()
    assert leftovers("fault-kernel") == []


# -- a command hangs --------------------------------------------------------------------------------

def test_a_hung_command_is_killed_and_its_run_cleaned_up(tmp_path, engine):
    runbooks = tmp_path / "runbooks"
    pid_file = tmp_path / "hung.pid"
    write_runbook(runbooks, "fault-hang", [
        cell("migrate", "!python manage.py migrate -v0"),
        # A database client that never returns: the group (bash, python) is killed at the timeout.
        cell("hang", f"!echo $$ > {pid_file}; python manage.py shell -c 'import time; time.sleep(600)'", timeout=4),
    ])
    out = tmp_path / "hang.ipynb"
    result = runbook_cli("run", "fault-hang", "--engine", engine, "-q", "--output", str(out),
                         env={"RUNBOOK_DIR": str(runbooks)})
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"runbook 'fault-hang', cell 'hang' (echo $$ > {pid_file}; python manage.py shell -c 'import time; " \
           f"time.sleep(600)') on {engine}: timed out" in result.stdout
    assert group_gone(int(pid_file.read_text()))
    assert out.is_file()
    assert leftovers("fault-hang") == []


# -- SIGINT ------------------------------------------------------------------------------------------

def test_sigint_while_a_command_runs_stops_and_cleans_up(tmp_path, engine):
    runbooks = tmp_path / "runbooks"
    pid_file = tmp_path / "nap.pid"
    write_runbook(runbooks, "fault-sigint", [
        cell("migrate", "!python manage.py migrate -v0"),
        cell("nap", f"!echo $$ > {pid_file}; sleep 600"),
        cell("after", "!echo never"),
    ])
    out = tmp_path / "sigint.ipynb"
    proc = subprocess.Popen(
        [sys.executable, "-m", "runbook.cli", "run", "fault-sigint", "--engine", engine, "-q", "--output", str(out)],
        cwd=REPO, env={**os.environ, "RUNBOOK_DIR": str(runbooks)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    _wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), proc, 120)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stdout + stderr
    assert one_error_line(stderr) == (
        f"error: runbook 'fault-sigint', cell 'nap' (echo $$ > {pid_file}; sleep 600) on {engine}: interrupted "
        "(SIGINT); the run was stopped; temporary databases and folders were removed")
    assert group_gone(int(pid_file.read_text()))  # the sleep, in a session of its own, was killed too
    executed = nbformat.read(out, as_version=4)  # the executed notebook is still written
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    assert leftovers("fault-sigint") == []


def test_sigterm_stops_a_parallel_validation_and_cleans_up(tmp_path):
    """A cancelled CI job sends SIGTERM: every worker's run stops and cleans up, none is left behind."""
    runbooks = tmp_path / "runbooks"
    pid_files = {slug: tmp_path / f"{slug}.pid" for slug in ("fault-term-a", "fault-term-b")}
    for slug, pid_file in pid_files.items():
        write_runbook(runbooks, slug, [
            cell("migrate", "!python manage.py migrate -v0"),
            cell("nap", f"!echo $$ > {pid_file}; sleep 600"),
        ])
    proc = subprocess.Popen(
        [sys.executable, "-m", "runbook.cli", "validate", *pid_files, "--django", "5.2", "--engine", "sqlite", "--jobs", "2",
         "--no-cache", "--records", str(tmp_path / "records")],
        cwd=REPO, env={**os.environ, "RUNBOOK_DIR": str(runbooks)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    _wait_for(lambda: all(p.exists() and p.read_text().strip() for p in pid_files.values()), proc, 240)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stdout + stderr
    assert "temporary databases and folders were removed" in stderr
    for slug, pid_file in pid_files.items():
        assert group_gone(int(pid_file.read_text())), slug  # each worker's sleep was killed
        assert leftovers(slug) == []


def _wait_for(condition, proc: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the run ended before the fault: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the run never reached the cell to interrupt")
        time.sleep(0.2)


# -- the database server stops -----------------------------------------------------------------------

@dataclass
class Cluster:
    """A PostgreSQL cluster of the test's own, on a free port, that the test may stop."""

    data: Path
    port: int
    log: Path
    as_postgres: list[str]

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args: str) -> list[str]:
        return [*self.as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args]

    def start_command(self) -> list[str]:
        return self.pg_ctl("-o", f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1",
                           "-l", str(self.log), "-w", "start")

    def stop_command(self) -> list[str]:
        return self.pg_ctl("-m", "immediate", "stop")


@pytest.fixture
def own_postgres():
    if not (PG_BIN / "initdb").is_file():
        message = f"no PostgreSQL binaries in {PG_BIN}"
        pytest.fail(message) if IN_CI else pytest.skip(message)
    base = Path(tempfile.mkdtemp(prefix="rb-own-postgres-"))
    as_postgres = []
    if os.geteuid() == 0:  # initdb and postgres refuse root: run them as the postgres user
        as_postgres = ["runuser", "-u", "postgres", "--"]
        shutil.chown(base, "postgres")
    cluster = Cluster(base / "data", _free_port(), base / "server.log", as_postgres)
    subprocess.run([*as_postgres, str(PG_BIN / "initdb"), "-D", str(cluster.data), "-U", "postgres",
                    "--auth=trust", "-E", "UTF8"], check=True, capture_output=True)
    subprocess.run(cluster.start_command(), check=True, capture_output=True)
    try:
        yield cluster
    finally:
        subprocess.run(cluster.stop_command(), capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stopping_runbook(folder: Path, cluster: Cluster, restart_after: float | None) -> None:
    stop = shlex.join(cluster.stop_command())
    if restart_after is not None:  # as a supervisor would: the server comes back a few seconds later
        stop += f"; (sleep {restart_after}; {shlex.join(cluster.start_command())}) >/dev/null 2>&1 &"
    write_runbook(folder, "fault-server", [
        cell("migrate", "!python manage.py migrate -v0"),
        cell("stop-server", f"!{stop}"),
        cell("query", "!python manage.py showmigrations finflo"),
        cell("after", "!echo never"),
    ])


def test_the_database_server_stopping_mid_run_fails_it_cleanly(tmp_path, own_postgres):
    _stopping_runbook(tmp_path / "runbooks", own_postgres, restart_after=3)
    result = runbook_cli("validate", "fault-server", "--django", "5.2", "--engine", "postgresql", "--records", str(tmp_path / "records"),
                         "--no-cache", env={"RUNBOOK_DIR": str(tmp_path / "runbooks"), "RUNBOOK_POSTGRES_URL": own_postgres.url})
    assert result.returncode == 1, result.stdout + result.stderr
    assert (tmp_path / "records" / "fault-server" / "django-5.2" / "postgresql.json").is_file(), result.stdout + result.stderr
    record = json.loads((tmp_path / "records" / "fault-server" / "django-5.2" / "postgresql.json").read_text())
    assert record["error"] == ("runbook 'fault-server', cell 'query' (python manage.py showmigrations finflo) "
                               "on postgresql: CommandFailed: exit status 1: python manage.py showmigrations finflo")
    cells = {c["id"]: c for c in record["cells"]}
    assert cells["query"]["outcome"] == "failed" and cells["query"]["exit"] == 1, cells["query"]
    refused = f'connection to server at "127.0.0.1", port {own_postgres.port} failed: Connection refused'
    assert cells["query"]["output"].strip().splitlines()[-2:] == [
        f"django.db.utils.OperationalError: connection failed: {refused}",
        "\tIs the server running on that host and accepting TCP/IP connections?",
    ], cells["query"]["output"]
    assert cells["after"]["outcome"] == "not-run"
    # The runner waited for the server to come back and dropped its scratch database there.
    assert leftovers("fault-server", [databases.Database(own_postgres.url)]) == []


def test_a_server_that_stays_down_is_reported_with_the_database_left_behind(tmp_path, own_postgres):
    _stopping_runbook(tmp_path / "runbooks", own_postgres, restart_after=None)
    result = runbook_cli("run", "fault-server", "--engine", "postgresql", "-q", "--output", str(tmp_path / "out.ipynb"),
                         env={"RUNBOOK_DIR": str(tmp_path / "runbooks"), "RUNBOOK_POSTGRES_URL": own_postgres.url,
                              "RUNBOOK_DROP_PATIENCE": "2"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "runbook 'fault-server', cell 'query' (python manage.py showmigrations finflo) on postgresql: " \
           "CommandFailed: exit status 1" in result.stdout
    assert result.stderr == ""
    error = next(line for line in result.stdout.splitlines() if "could not drop" in line)
    assert error.startswith("  ● could not drop the scratch database rb_fault_server_")
    assert f"on the postgresql server at 127.0.0.1:{own_postgres.port}" in error and "DROP DATABASE rb_fault_server_" in error
    assert (tmp_path / "out.ipynb").is_file()
    # No temporary folder is left; the database is, on the stopped server, and the message names it.
    subprocess.run(own_postgres.start_command(), check=True, capture_output=True)
    left = leftovers("fault-server", [databases.Database(own_postgres.url)])
    assert len(left) == 1 and left[0] in error


# -- two validations at once ---------------------------------------------------------------------------

def test_two_validations_at_once_do_not_collide(tmp_path):
    from .conftest import require_server

    require_server("postgresql")
    runbooks = tmp_path / "runbooks"
    write_runbook(runbooks, "fault-twice", [
        cell("migrate", "!python manage.py migrate -v0"),
        cell("check", "!python manage.py migrate --check"),
        cell("verify", "!python -m runbook.verify", output="finflo seeded rows: OK"),
    ])
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "runbook.cli", "validate", "fault-twice", "--django", "5.2", "--engine", "sqlite", "--engine",
             "postgresql", "--records", str(tmp_path / f"records-{i}"), "--no-cache"],
            cwd=REPO, env={**os.environ, "RUNBOOK_DIR": str(runbooks)}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )
        for i in (1, 2)
    ]
    results = [(p.communicate(timeout=600), p.returncode) for p in procs]
    for (stdout, stderr), code in results:
        assert code == 0, stdout + stderr
        assert "2 passed, 0 failed" in stdout
    for i in (1, 2):
        for engine in ("sqlite", "postgresql"):
            record = json.loads((tmp_path / f"records-{i}" / "fault-twice" / "django-5.2" / f"{engine}.json").read_text())
            assert record["outcome"] == "passed"
    for engine in ("sqlite", "postgresql"):
        nbformat.read(REPO / ".runbook" / "executed" / f"fault-twice-{engine}-django-5.2.ipynb", as_version=4)  # whole
        (REPO / ".runbook" / "executed" / f"fault-twice-{engine}-django-5.2.ipynb").unlink()
    assert leftovers("fault-twice") == []
