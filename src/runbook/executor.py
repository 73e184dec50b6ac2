"""Run one runbook on one database with nbclient, checking every cell against what it declares.

Each run gets a fresh copy of the sample project (or the operator's own project, in place) and a
fresh database, a kernel that talks over IPC, per-cell and per-run timeouts, and a typed record.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Callable

import nbformat
from nbclient import NotebookClient
from traitlets import Unicode, default
from traitlets.config import Config
from nbclient.exceptions import DeadKernelError
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager

from . import databases, django_versions, guards, paths, preconditions, preload, processes
from .errors import BadInput, RunbookFailed
from .notebooks import Cell, Runbook, fill
from .paths import SAMPLE_PROJECT
from .records import CellRecord, RunRecord
from .scrub import scrub, secrets_of

CELL_TIMEOUT = 300.0
RUN_TIMEOUT = 1800.0
KERNEL_NAME = "runbook-python"
_EXIT_STATUS = re.compile(r"exit status (-?\d+)")
_COPY_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "db.sqlite3", "finflo.log")


@dataclass
class RunOptions:
    engine: str = "sqlite"
    project: Path | None = None  # None: a fresh copy of the sample project
    database_url: str | None = None  # None: a fresh scratch database on `engine`
    parameters: dict[str, str] = field(default_factory=dict)
    cell_timeout: float = CELL_TIMEOUT
    run_timeout: float = RUN_TIMEOUT
    save_notebook: Path | None = None
    backup_dir: Path | None = None  # operator mode: where the backup before destruction goes
    # Operator mode: asked before each cell that deletes data; False stops the run there.
    confirm: Callable[[Cell], bool] | None = None
    tree_was_dirty: bool = False  # operator mode: cells that need a clean tree are skipped
    # The Django series whose environment runs the kernel and the commands (runbook.django_versions);
    # None: the runner's own Python, as against an operator's project.
    django: str | None = None
    # Serve `python manage.py …` from a preloaded process (runbook.preload): `validate` asks for it;
    # never with `project` (a user's project runs real processes only).
    preload: bool = False
    # For tests that prove something against the state a cell leaves (doctor's findings:
    # tests/runbooks/test_real_process_runs.py): after the cell of each id has run as it declares,
    # its function gets the run's RunState, while the project copy and the databases still exist;
    # an exception it raises ends the run and goes to the caller.
    inspect_after: dict[str, Callable[["RunState"], None]] = field(default_factory=dict)


@dataclass(frozen=True)
class RunState:
    """Where a run's state is, for an ``inspect_after`` function: the project and its databases."""

    cell: str  # the id of the cell that just ran
    engine: str
    project: Path
    database_url: str
    throwaway_database_urls: dict[str, str]  # the runbook's metadata `databases`, by name


class Progress:
    """What a run reports as it goes; the CLI prints it, tests may collect it."""

    def run_started(self, runbook: Runbook, engine: str, django: str | None = None) -> None: ...
    def cell_started(self, cell: Cell, commands: list[str]) -> None: ...
    def cell_output(self, text: str) -> None: ...
    def cell_finished(self, cell: Cell, record: CellRecord) -> None: ...
    def run_finished(self, record: RunRecord) -> None: ...
    def note(self, text: str) -> None: ...


def run(runbook: Runbook, options: RunOptions, progress: Progress | None = None) -> RunRecord:
    """Execute ``runbook``; return its record (failed runs too). Raises BadInput before changing anything."""
    progress = progress or Progress()
    if options.project is not None:
        runbook.with_procedure(runbook.procedure)  # one of its alternatives chosen, if it has them
    for cell_id in options.inspect_after:
        runbook.cell(cell_id)  # a misspelt id is bad input, not a run that never inspects
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"runbook-{runbook.slug}-")))
        project = _prepare_project(options.project, tmp)
        if options.database_url:
            database = databases.Database(options.database_url)
            database.check_reachable()
        else:
            database = stack.enter_context(databases.scratch_database(options.engine, tmp, runbook.slug))
        # Throwaway databases for demonstrations, on the sample only.
        extra = throwaway_databases(stack, runbook, database.engine, tmp) if options.project is None else {}
        # Commands a dead or interrupted kernel leaves running (own sessions) are killed, before the database is dropped.
        stack.callback(processes.kill_recorded, tmp / "processes")
        record = _Execution(runbook, options, project, database, tmp, progress, extra).run()
        try:
            stack.close()  # drop the scratch database and remove the folder now, to report a failure
        except databases.DropFailed as exc:  # the server went away and stayed away
            record.outcome = "failed"
            record.error = f"{record.error}; {exc}" if record.error else str(exc)
            progress.note(str(exc))
        return record


def copy_sample_project(dest: Path) -> Path:
    """A fresh copy of the sample project, under git like a real one, so runbooks can show and undo edits."""
    shutil.copytree(SAMPLE_PROJECT, dest, ignore=_COPY_IGNORE)
    _commit_all(dest)
    return dest


def throwaway_databases(stack: contextlib.ExitStack, runbook: Runbook, engine: str, tmp: Path) -> dict[str, databases.Database]:
    """One more scratch database for each name in the runbook's metadata ``databases``, dropped with ``stack``."""
    extra = {}
    for name in runbook.extra_databases:
        folder = tmp / f"db-{name}"
        folder.mkdir()
        extra[name] = stack.enter_context(databases.scratch_database(engine, folder, f"{runbook.slug}_{name}"))
    return extra


def injected_values(project: Path, database: databases.Database, throwaway: dict[str, databases.Database],
                    parameters: dict[str, str] | None = None) -> dict[str, object]:
    """What the runner sets after the parameters cell: this run's project and databases, and the ``-p`` values.

    A cell's ``{name}`` is then ``{**runbook.defaults, **injected_values(...)}[name]``.
    """
    return {"project_dir": str(project), "database_url": database.url,
            **{f"{name}_database_url": db.url for name, db in throwaway.items()}, **(parameters or {})}


def with_injected_parameters(nb, runbook: Runbook, injected: dict[str, object]):
    """``nb`` with papermill's ``injected-parameters`` cell after its ``parameters`` cell."""
    values = {k: v for k, v in injected.items() if k in runbook.defaults or k in guards.INJECTED}
    source = "# Parameters\n" + "".join(f"{k} = {v!r}\n" for k, v in values.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    cell.id = "injected-parameters"
    at = next((i + 1 for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])), 0)
    nb.cells.insert(at, cell)
    return nb


def command_environment(python: Path | None = None) -> dict[str, str]:
    """The environment a runbook's commands start from (the setup cell then sets DATABASE_URL)."""
    # The run's Python first (the runner's by default), no inherited DATABASE_URL: only the runbook's
    # parameter decides it.
    env = preconditions.command_env(None, python)
    env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")  # nothing a reader's shell lacks
    return env


def _prepare_project(project: Path | None, tmp: Path) -> Path:
    if project is None:
        return copy_sample_project(tmp / "project")
    project = project.resolve()
    if not (project / "manage.py").is_file():
        raise BadInput(f"not a Django project (no manage.py): {project}")
    return project


def _commit_all(project: Path) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "runbook", "GIT_AUTHOR_EMAIL": "runbook@localhost",
           "GIT_COMMITTER_NAME": "runbook", "GIT_COMMITTER_EMAIL": "runbook@localhost"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "sample project"]):
        subprocess.run(["git", *args], cwd=project, env=env, check=True, capture_output=True)


class _Execution:
    def __init__(self, runbook, options, project, database, tmp, progress, extra=None):
        self.runbook = runbook
        self.options = options
        self.project = project
        self.database = database
        self.tmp = tmp
        self.progress = progress
        self.engine = database.engine
        self.replies: dict[int, dict] = {}
        self.environment = django_versions.environment(options.django) if options.django else None
        self.python = self.environment.python if self.environment else Path(sys.executable)
        # Against an operator's project: the runner's own Django picks a version's cells.
        self.django = options.django or django_versions.series(version("django"))
        self.secrets = secrets_of(self._kernel_env(), database.url, project if options.project else None)
        self.replacements = {
            str(project): "<project>", str(tmp): "<tmp>", database.name: "<database>",
            sysconfig.get_paths()["purelib"]: "<site-packages>", sys.prefix: "<venv>",
        }
        self.operator = options.project is not None
        for folder, name in (self.environment.folders().items() if self.environment else ()):
            self.replacements.setdefault(folder, name)
        self.extra = extra or {}
        for name, db in (extra or {}).items():
            self.replacements[db.name] = f"<{name}-database>"
        self.injected = injected_values(project, database, extra or {}, options.parameters)
        self.values = {**runbook.defaults, **self.injected}
        self.guard = None
        if self.operator and guards.is_destructive(runbook):
            self.guard = guards.BackupBeforeDestruction(
                runbook, self.engine, project, database, options.backup_dir or paths.AUDIT_ROOT,
                tmp, progress.note, self._clean,
            )

    def run(self) -> RunRecord:
        started = datetime.now(timezone.utc)
        clock = time.monotonic()
        versions = self._versions()
        record = RunRecord(
            runbook=self.runbook.slug, engine=self.engine, outcome="passed",
            started=started.isoformat(timespec="seconds"), duration=0.0, versions=versions,
            django=django_versions.series(versions["django"]),
        )
        self.progress.run_started(self.runbook, self.engine, self.options.django)
        nb = self._notebook()
        client = self._client(nb)
        deadline = clock + self.options.run_timeout
        interrupted = False
        try:
            with contextlib.ExitStack() as serving:
                env = self._kernel_env()
                if self.options.preload and not self.operator:  # a user's project: real processes only
                    env[preload.KERNEL_VARIABLE] = serving.enter_context(preload.serving(self.tmp, self._kernel_env(), self.python))
                    record.mode = "preloaded"
                try:
                    with client.setup_kernel(env=env):
                        self._execute_cells(nb, client, record, deadline)
                finally:
                    if preload.KERNEL_VARIABLE in env:
                        record.preload = preload.tally(self.tmp)
        except RunbookFailed as failure:
            record.outcome, record.error = "failed", str(failure)
        except DeadKernelError:
            record.outcome = "failed"
            record.error = self._where(self._current, "the kernel died")
            self._close_current(record, "failed", "the kernel died")
        except KeyboardInterrupt as stop:
            record.outcome = "failed"
            signal_name = getattr(stop, "signal_name", "SIGINT")
            record.error = self._where(self._current, f"interrupted ({signal_name}); the run was stopped")
            self._close_current(record, "failed", "interrupted")
            interrupted = True
        finally:
            record.duration = round(time.monotonic() - clock, 3)
            self._mark_not_run(record)
            if self.options.save_notebook:
                self._save_notebook(nb)
        self.progress.run_finished(record)
        if interrupted:
            raise Interrupted(record)
        return record

    # -- cells ---------------------------------------------------------------------------------

    def _execute_cells(self, nb, client, record, deadline) -> None:
        cells = iter(self.runbook.cells)
        for nb_index, node in enumerate(nb.cells):
            if node.cell_type != "code":
                continue
            if "injected-parameters" in node.metadata.get("tags", []):
                client.execute_cell(node, nb_index)
                continue
            cell = next(cells)
            commands = self._commands(cell)
            skip, reason = self._skip(cell)
            if skip:
                record.cells.append(CellRecord(cell.id, commands, "skipped", error=reason))
                continue
            if self.operator and cell.destructive and self.options.confirm and not self.options.confirm(cell):
                raise RunbookFailed(self._where(cell, "the operator declined; this cell and the ones after it did not run"))
            if self.guard:
                self.guard.before(cell)  # the verified backup, before the first cell that deletes data
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RunbookFailed(self._where(cell, f"run timeout of {self.options.run_timeout:g}s reached"))
            timeout = min(cell.timeout or self.options.cell_timeout, remaining)
            client.timeout = max(1, int(timeout))
            client.error_on_timeout = {
                "ename": "CellTimeoutError",
                "evalue": f"no result after {client.timeout}s; the command was killed",
            }
            self._current = cell
            self.progress.cell_started(cell, commands)
            start = time.monotonic()
            client.execute_cell(node, nb_index)
            cell_record = self._judge(cell, node, round(time.monotonic() - start, 3))
            record.cells.append(cell_record)
            self.progress.cell_finished(cell, cell_record)
            if cell_record.outcome in ("failed", "timeout"):
                raise RunbookFailed(self._where(cell, cell_record.error or "failed"))
            if cell.id in self.options.inspect_after:
                self.options.inspect_after[cell.id](self._state(cell))
        self._current = None

    def _state(self, cell: Cell) -> RunState:
        return RunState(cell.id, self.engine, self.project, self.database.url,
                        {name: db.url for name, db in self.extra.items()})

    _current: Cell | None = None

    def _skip(self, cell: Cell) -> tuple[bool, str | None]:
        """Whether the cell is left out of this run, and why (None: another engine's cell)."""
        if not cell.runs_on(self.engine) or not cell.runs_with(self.django):
            return True, None
        if self.operator and not cell.for_operator:
            return True, f"{cell.role}: runs on the sample project only"
        if self.operator and not cell.in_procedure(self.runbook.procedure):
            return True, f"belongs to the procedure {cell.procedure!r}; this run is --procedure {self.runbook.procedure}"
        if self.operator and "clean-tree" in cell.needs and self.options.tree_was_dirty:
            return True, "needs a clean tree, and the project had uncommitted changes (--allow-dirty)"
        return False, None

    def _judge(self, cell: Cell, node, duration: float) -> CellRecord:
        """Compare what the cell did with what it declares."""
        reply = self.replies.get(id(node), {}).get("content", {})
        status = reply.get("status", "error")
        ename, evalue = reply.get("ename", ""), reply.get("evalue", "")
        output = self._clean("".join(o.get("text", "") for o in node.outputs if o.output_type == "stream"))
        match = _EXIT_STATUS.search(evalue) if status == "error" else None
        exit_code = 0 if status == "ok" else (int(match.group(1)) if match else None)
        rec = CellRecord(cell.id, self._commands(cell), "passed", duration, exit_code, output)
        failure = None
        if ename == "CellTimeoutError":
            rec.outcome, rec.error = "timeout", f"timed out: {evalue}"
            return rec
        if cell.expect.exit == 0 and status != "ok":
            failure = f"{ename}: {self._clean(evalue)}"
        elif cell.expect.exit != 0:
            if status == "ok":
                failure = f"expected exit status {cell.expect.exit}, but the cell succeeded"
            elif exit_code != cell.expect.exit:
                failure = f"expected exit status {cell.expect.exit}, got {ename}: {self._clean(evalue)}"
            else:
                rec.outcome = "expected-failure"
        pattern = fill(cell.expect.output, {k: re.escape(str(v)) for k, v in self.values.items()}) if cell.expect.output else None
        if failure is None and pattern and not re.search(pattern, output):
            failure = f"output does not match /{pattern}/"
        if failure:
            rec.outcome, rec.error = "failed", failure
        return rec

    def _commands(self, cell: Cell) -> list[str]:
        """The cell's commands as they run, scrubbed like its output (a throwaway database's path, secrets)."""
        return [self._clean(c) for c in cell.commands_with(self.values)]

    def _where(self, cell: Cell | None, message: str) -> str:
        place = f"runbook {self.runbook.slug!r}"
        if cell is not None:
            place += f", cell {cell.id!r}"
            if cell.commands:
                place += f" ({self._commands(cell)[0]})"
        return f"{place} on {self.engine}: {message}"

    def _close_current(self, record: RunRecord, outcome: str, error: str) -> None:
        if self._current is not None and not record.cell(self._current.id):
            record.cells.append(CellRecord(self._current.id, self._commands(self._current), outcome, error=error))

    def _mark_not_run(self, record: RunRecord) -> None:
        done = {c.id for c in record.cells}
        for cell in self.runbook.cells:
            if cell.id not in done:
                record.cells.append(CellRecord(cell.id, self._commands(cell), "not-run"))
        order = {c.id: i for i, c in enumerate(self.runbook.cells)}
        record.cells.sort(key=lambda c: order[c.id])

    # -- set-up --------------------------------------------------------------------------------

    def _notebook(self):
        return with_injected_parameters(nbformat.read(self.runbook.path, as_version=4), self.runbook, self.injected)

    def _client(self, nb) -> NotebookClient:
        # IPC sockets in the run's private folder: no TCP port for other local users to reach.
        config = Config(KernelManager={"transport": "ipc", "ip": str(self.tmp / "kernel")},
                        RunKernelManager={"kernelspecs": str(self._write_kernelspec())})
        client = NotebookClient(
            nb, kernel_name=KERNEL_NAME, kernel_manager_class=RunKernelManager, config=config, timeout=int(self.options.cell_timeout), interrupt_on_timeout=True,
            allow_errors=True, record_timing=False, shutdown_kernel="immediate",
            resources={"metadata": {"path": str(self.project)}},
        )
        client.on_cell_executed = self._on_cell_executed
        original_output = client.output

        def output(outs, msg, display_id, cell_index):
            if msg["msg_type"] == "stream":
                self.progress.cell_output(self._clean(msg["content"].get("text", "")))
            return original_output(outs, msg, display_id, cell_index)

        client.output = output
        return client

    def _write_kernelspec(self) -> Path:
        """A kernelspec on the run's Python (its Django version's environment), in the run's folder,
        so that no kernelspec installed on the machine decides which Python runs the cells."""
        specs = self.tmp / "kernelspecs"
        (specs / KERNEL_NAME).mkdir(parents=True, exist_ok=True)
        (specs / KERNEL_NAME / "kernel.json").write_text(json.dumps({
            "argv": [str(self.python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": f"Python ({self.python})", "language": "python",
        }))
        return specs

    def _on_cell_executed(self, cell, cell_index, execute_reply):
        self.replies[id(cell)] = execute_reply

    def _kernel_env(self) -> dict[str, str]:
        env = command_environment(self.python)
        env[processes.ENV] = str(self.tmp / "processes")
        return env

    def _versions(self) -> dict[str, str]:
        installed = self.environment.installed() if self.environment else {n: version(n) for n in ("django", "finflo")}
        return {"django": installed["django"], "finflo": installed["finflo"], self.engine: self.database.server_version()}

    def _clean(self, text: str) -> str:
        return scrub(text, self.replacements, self.secrets)

    def _save_notebook(self, nb) -> None:
        for node in nb.cells:
            for out in node.get("outputs", []):
                if "text" in out:
                    out["text"] = self._clean(out["text"])
                if "traceback" in out:
                    out["traceback"] = [self._clean(t) for t in out["traceback"]]
                if "evalue" in out:
                    out["evalue"] = self._clean(out["evalue"])
                for mime, value in out.get("data", {}).items():  # results and displays, e.g. os.environ
                    if isinstance(value, str):
                        out["data"][mime] = self._clean(value)
        for node in nb.cells:
            if "injected-parameters" in node.metadata.get("tags", []):
                node.source = self._clean(node.source)
        path = self.options.save_notebook
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        nbformat.write(nb, partial)
        partial.replace(path)  # atomic: runs side by side never leave half a notebook


class RunKernelManager(AsyncKernelManager):
    """Finds kernelspecs in one folder only (the run's). nbclient makes it and so shuts its kernel down."""

    kernelspecs = Unicode(config=True)

    @default("kernel_spec_manager")
    def _only_the_runs_kernelspecs(self):
        return KernelSpecManager(kernel_dirs=[self.kernelspecs])


class Interrupted(KeyboardInterrupt):
    """SIGINT stopped a run; ``record`` is its failed record (the executed notebook is saved)."""

    def __init__(self, record: RunRecord):
        super().__init__(record.error)
        self.record = record


def _password(url: str) -> str | None:
    from urllib.parse import urlsplit
    return urlsplit(url).password
