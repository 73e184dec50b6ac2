"""Run a runbook's proven procedure on an operator's own project: plan, checks, confirmation, audit.

Against ``--project`` only the ``procedure`` and ``check`` cells run (never a ``demo`` cell), after:

1. the project is a Django project in a git work tree, with no uncommitted changes unless the
   operator allows them, and the database URL is the one its settings use;
2. every required parameter is given (``-p``), and the runbook's preconditions hold;
3. a data-deleting step is confirmed (a terminal asks; ``--yes`` answers for automation).

Each run keeps its plan, executed notebook, record, file copies and database backup in one folder
(``~/.runbook/runs/<project>-<time>/``, or under ``--backup-dir``). Afterwards every file of the
project is compared with a snapshot: a change the runbook does not declare fails the run.
"""
from __future__ import annotations

import fnmatch
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlsplit

from . import backup, databases, django_versions, guards, paths, preconditions, projectfiles, restore
from .errors import BadInput
from .executor import Progress, RunOptions, run
from .notebooks import Cell, Runbook, fill
from .records import RunRecord
from .scrub import scrub

_MIGRATES = re.compile(r"\bmanage\.py migrate\b(?!.*--(?:plan|check|fake))")


@dataclass
class Step:
    cell: Cell
    commands: list[str]
    writes: list[str]
    deletes_data: bool


@dataclass
class Plan:
    runbook: Runbook
    project: Path
    database_url: str
    values: dict[str, object]
    preconditions: list[tuple[str, bool]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)  # uncommitted or untracked, before the run
    # Uncommitted changes the chosen procedure fixes (its metadata "changes"): not a dirty tree.
    expected_changes: list[str] = field(default_factory=list)
    migrate_plan: tuple[str, str] | None = None  # (command, Django's output)

    @property
    def holds(self) -> bool:
        return all(ok for _, ok in self.preconditions)

    @property
    def unmet(self) -> list[str]:
        return [text for text, ok in self.preconditions if not ok]

    @property
    def first_deleting_step(self) -> Step | None:
        return next((s for s in self.steps if s.deletes_data), None)


AUDIT_FOLDER = "the run's audit folder"


def make_plan(runbook: Runbook, project: Path, database_url: str | None, params: dict[str, str],
              allow_dirty: bool = False, ask_django: bool = True) -> Plan:
    """Everything an operator run would do, decided without changing anything."""
    runbook.with_procedure(runbook.procedure)  # a runbook with alternatives: one of them chosen
    project = _django_project(project)
    if not database_url:
        raise BadInput("--project needs --database-url: the database your project uses (a copy of it is best), "
                       "e.g. postgres://me@localhost/myapp_copy")
    databases.Database(database_url).check_reachable()
    values = {**runbook.defaults, **params, "project_dir": str(project), "database_url": database_url}
    if "backup_dir" in runbook.defaults and "backup_dir" not in params:
        values["backup_dir"] = AUDIT_FOLDER  # the sample's default ('..') is never used against a project
    plan = Plan(runbook, project, database_url, values)
    expected = [fill(pattern, values) for pattern in (runbook.chosen.changes if runbook.chosen else ())]
    for path in projectfiles.uncommitted_changes(project):
        (plan.expected_changes if any(fnmatch.fnmatchcase(path, p) for p in expected) else plan.changes).append(path)
    env = preconditions.command_env(database_url)
    plan.preconditions += _parameter_conditions(runbook, params)  # first: the other checks use their values
    found = preconditions.probe(project, env, runbook.needs_with(values))
    unset = {name for name, meta in runbook.parameter_help.items() if meta.get("required") and name not in params}
    for check in preconditions.check_found(runbook, found, values, unset):
        plan.preconditions.append((f"needs {check.describe()}", check.holds))
    engine = databases.engine_of(database_url)
    plan.preconditions += preconditions.edit_checks(runbook, values, project, engine, unset)
    tools = preconditions.program_check(runbook, engine, env["PATH"])
    if tools.needed:
        plan.preconditions.append((f"needs {tools.describe()}", tools.holds))
    plan.preconditions.append(_tree_condition(plan.changes, allow_dirty, plan.expected_changes))
    plan.preconditions.append(_database_condition(database_url, found.get("database", {}), project))
    for cell in runbook.operator_cells:
        if cell.is_parameters or not cell.runs_on(engine) or not cell.runs_with(django_versions.series(version("django"))):
            continue  # another engine's or Django version's step (its tab or paragraph on the page)
        plan.steps.append(Step(cell, cell.commands_with(values), cell.writes_with(values), cell.destructive))
    # Django's plan for the project's own database: the first migrate that names no other settings
    # (a procedure may migrate a scratch database first, with --settings=…).
    migrating = [c for s in plan.steps for c in s.commands if _MIGRATES.search(c) and "--settings" not in c]
    if migrating and ask_django and plan.holds:
        command = migrating[0] + " --plan"
        plan.migrate_plan = (command, _django_says(project, env, command))
    return plan


def operator_commands(runbook: Runbook) -> list[str]:
    """The exact `runbook plan` and `runbook run` lines for an operator's project (what pages show); for
    a runbook with alternative procedures, those of the chosen one (``Runbook.with_procedure``)."""
    runbook.with_procedure(runbook.procedure)
    params = "".join(f" -p {shlex.quote(f'{name}={runbook.defaults.get(name)}')}"
                     for name, meta in runbook.parameter_help.items() if meta.get("required"))
    procedure = f" --procedure {runbook.procedure}" if runbook.procedure else ""
    base = f"{runbook.slug} --project . --database-url \"$DATABASE_URL\"{procedure}{params}"
    flags = " --allow-destructive" if guards.is_destructive(runbook) else ""
    return [f"runbook plan {base}", f"runbook run {base}{flags}"]


# Preloading (runbook.preload) serves commands from a process the runner started: on a user's
# project every command is the real process a reader's shell would start.
REAL_PROCESSES = "commands: each a real process (never preloaded: `runbook validate` preloads only on the sample project)"


def format_plan(plan: Plan) -> str:
    rb = plan.runbook
    lines = [f"Plan: runbook {rb.slug!r} on {plan.project}"]
    if rb.chosen:
        others = [n for n in rb.procedures if n != rb.chosen.name]
        lines.append(f"  procedure: {rb.chosen.name}, if {fill(rb.chosen.when, plan.values)}; "
                     f"not {' or '.join(others)}")
    lines += [f"  database: {scrub(plan.database_url)}", f"  Django: {proven_on()}", f"  {REAL_PROCESSES}", "",
              "Preconditions:"]
    lines += [f"  {'✓' if ok else '✗'} {text}" for text, ok in plan.preconditions]
    shown = {k: v for k, v in plan.values.items() if k in rb.parameter_help}
    if shown:
        lines += ["", "Parameters:"] + [f"  {k} = {v!r}" for k, v in shown.items()]
    left_out = "demonstrations of the sample project" + (
        f" and the steps of {' and '.join(n for n in rb.procedures if n != rb.chosen.name)}" if rb.chosen else "")
    lines += ["", f"Steps ({len(plan.steps)}; {left_out} are left out):"]
    for n, step in enumerate(plan.steps, 1):
        flags = [step.cell.role]
        if step.deletes_data:
            flags.append("DELETES DATA (a verified backup is taken first; you are asked to confirm)")
        if step.cell.edits_files:
            flags.append(f"changes files: {', '.join(step.writes) or 'see the edit'}")
        lines.append(f"  {n:>2}. {step.cell.id}  [{'; '.join(flags)}]")
        for command in step.commands:
            lines.append(f"        $ {command}")
        edit = step.cell.edit_with(plan.values)
        if edit is not None:  # with the operator's names, as it will run
            lines.append("        (a file edit: " + _cut(f"replace_in_file({edit[0]!r}, old={edit[1]!r}, new={edit[2]!r})") + ")")
        elif not step.commands and step.cell.source.strip() and step.cell.id != "setup":
            lines.append("        (a file edit: " + step.cell.source.strip().splitlines()[0] + " …)")
    if plan.migrate_plan:
        command, output = plan.migrate_plan
        lines += ["", f"Django's plan, on the database as it is now (`{command}`):"]
        lines += [f"  │ {line}" for line in output.rstrip().splitlines()]
    lines.append("")
    lines.append("All preconditions hold." if plan.holds else f"Not runnable: runbook {rb.slug!r} " + "; and ".join(plan.unmet))
    return "\n".join(lines)


def proven_on() -> str:
    """The Django the procedure runs with here (the runner's, as the project's commands use its
    Python), beside the versions the procedure was proven on."""
    here = version("django")
    proven = " and ".join(django_versions.VERSIONS)
    if django_versions.series(here) in django_versions.VERSIONS:
        return f"{here} here; the procedure is proven on Django {proven}"
    return f"{here} here, which the procedure is NOT proven on (only Django {proven})"


def _cut(text: str, width: int = 200) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def run_on_project(runbook: Runbook, options: RunOptions, progress: Progress, *, allow_dirty: bool,
                   yes: bool, ask: Callable[[str], str] | None, run_root: Path | None = None,
                   out=sys.stdout) -> tuple[RunRecord, Path]:
    """Check, plan, confirm, run the procedure in place, compare the files; return the record and run folder."""
    plan = make_plan(runbook, options.project, options.database_url, options.parameters, allow_dirty)
    if not plan.holds:
        raise BadInput(f"runbook {runbook.slug!r} " + "; and ".join(plan.unmet) + "; nothing was changed")
    confirm = _confirmation(plan, yes, ask)
    root = (run_root or options.backup_dir or paths.AUDIT_ROOT).expanduser()
    backup.check_folder(root, plan.project)
    params = dict(options.parameters)
    if "backup_dir" in runbook.defaults and "backup_dir" in params:
        backup.check_folder(Path(params["backup_dir"]), plan.project)
    run_dir = _new_run_dir(root, plan.project)
    if "backup_dir" in runbook.defaults:  # the procedure's own files go to the audit folder unless -p says where
        params.setdefault("backup_dir", str(run_dir))
    plan.values.update(params)
    text = format_plan(plan)
    (run_dir / "plan.txt").write_text(text + "\n")
    print(text, file=out)
    print(f"\naudit folder: {run_dir}", file=out, flush=True)

    patterns = projectfiles.declared_writes(runbook, plan.values)
    skip = _database_files(plan.database_url, plan.project)
    before = projectfiles.snapshot(plan.project, skip)
    copies = run_dir / "files"
    copied = projectfiles.copy_declared(plan.project, before, patterns, copies)
    if copied:
        print(f"copied the files the runbook may change to {copies}: {', '.join(copied)}", file=out, flush=True)

    options.parameters = params
    options.backup_dir = run_dir
    options.save_notebook = run_dir / f"{runbook.slug}.ipynb"
    options.tree_was_dirty = bool(plan.changes)
    options.confirm = confirm
    record = run(runbook, options, progress)

    diff = projectfiles.changes(before, projectfiles.snapshot(plan.project, skip))
    stray = projectfiles.undeclared(diff, patterns)
    if stray:
        record.outcome = "failed"
        message = f"the run changed project files it does not declare: {', '.join(stray)}"
        record.error = f"{record.error}; {message}" if record.error else message
        print(f"✗ {message}", file=out)
    (run_dir / "record.json").write_text(record.to_json())
    (run_dir / "files-changed.txt").write_text(
        "".join(f"{kind} {path}\n" for kind, paths in diff.items() for path in paths))
    _report(record, run_dir, plan.project, copies, diff, out)
    return record, run_dir


def _report(record: RunRecord, run_dir: Path, project: Path, copies: Path, diff: dict, out) -> None:
    changed = [f"{kind} {p}" for kind, paths in diff.items() for p in paths]
    print(f"files changed in the project: {', '.join(changed) or 'none'}", file=out)
    backups = sorted(p for p in run_dir.glob(f"{project.name}-*") if all(f.is_file() for f in backup.files(p)))
    if record.passed:
        if backups:  # the run may be the mistake: say how to undo it while the backup's commit is fresh in mind
            print(f"database backup: {backups[-1]}; to "
                  + (backups[-1] / restore.FILE).read_text().rstrip(), file=out)
        print(f"audit folder: {run_dir}", file=out, flush=True)
        return
    print("the run failed; to put things back:", file=out)
    for command in projectfiles.restore_commands(project, copies, diff):
        print(f"  files:    {command}", file=out)
    if backups:
        print(f"  database: {backups[-1]}; to " + (backups[-1] / restore.FILE).read_text().rstrip(), file=out)
    else:
        print("  database: nothing was deleted before the failure (no backup was needed yet)", file=out)
    print(f"audit folder: {run_dir}", file=out, flush=True)


def _confirmation(plan: Plan, yes: bool, ask: Callable[[str], str] | None) -> Callable[[Cell], bool] | None:
    step = plan.first_deleting_step
    if step is None or yes:
        return None
    if ask is None:
        raise BadInput(f"runbook {plan.runbook.slug!r} deletes data at step {step.cell.id!r}; run it on a terminal "
                       "to confirm, or pass --yes; nothing was changed")

    def confirm(cell: Cell) -> bool:
        answer = ask(f"Step {cell.id!r} deletes data in {scrub(plan.database_url)} "
                     f"({'; '.join(cell.commands_with(plan.values)) or 'see the plan'}). Go on? [y/N] ")
        return answer.strip().lower() in ("y", "yes")

    return confirm


def _django_project(project: Path) -> Path:
    project = project.expanduser().resolve()
    if not (project / "manage.py").is_file():
        raise BadInput(f"not a Django project (no manage.py): {project}")
    return project


def _tree_condition(changes: list[str], allow_dirty: bool, expected: list[str] = ()) -> tuple[str, bool]:
    if not changes:
        if expected:
            return f"a git work tree with no uncommitted changes but those this procedure fixes ({_shown(expected)})", True
        return "a git work tree with no uncommitted changes", True
    shown = _shown(changes)
    if allow_dirty:
        return f"uncommitted or untracked changes allowed (--allow-dirty): {shown}", True
    return (f"refuses a project with uncommitted or untracked changes ({shown}); commit or stash them, or pass "
            "--allow-dirty to have the files the runbook may change copied first"), False


def _shown(paths: list[str]) -> str:
    return ", ".join(paths[:10]) + (f" and {len(paths) - 10} more" if len(paths) > 10 else "")


def _parameter_conditions(runbook: Runbook, params: dict[str, str]) -> list[tuple[str, bool]]:
    conditions = []
    for name, meta in runbook.parameter_help.items():
        if meta.get("required") and name not in params:
            conditions.append((f"needs -p {name}=… ({meta.get('help', '')}); the sample's "
                               f"{runbook.defaults.get(name)!r} is not yours", False))
        elif meta.get("required"):
            conditions.append((f"parameter {name} = {params[name]!r}", True))
    return conditions


def _database_condition(url: str, database: dict, project: Path) -> tuple[str, bool]:
    """The settings must use the URL the runner was given, or the backup and the steps would miss."""
    wanted = _database_name(url, project)
    actual = str(database.get("NAME", ""))
    if databases.engine_of(url) == "sqlite":
        actual = str((project / actual).resolve()) if actual else ""
    if actual == wanted:
        return f"the project's settings use the database {scrub(url)}", True
    return (f"would run on the database {actual or '(none)'!r} that the project's settings name, not {wanted!r} "
            "from --database-url (read DATABASE_URL in the settings, e.g. with dj-database-url)"), False


def _database_name(url: str, project: Path) -> str:
    if databases.engine_of(url) == "sqlite":
        return str(_sqlite_file(url, project))
    return unquote(urlsplit(url).path.strip("/"))


def _sqlite_file(url: str, project: Path) -> Path:
    """sqlite:///rel.sqlite3 is relative to the project folder (where manage.py runs); sqlite:////abs is absolute."""
    return (project / unquote(urlsplit(url).path)[1:]).resolve()


def _database_files(url: str, project: Path) -> set[Path]:
    return {_sqlite_file(url, project)} if databases.engine_of(url) == "sqlite" else set()


def _django_says(project: Path, env: dict[str, str], command: str) -> str:
    argv = [sys.executable if w == "python" else w for w in shlex.split(command)]
    result = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=300)
    return (result.stdout + result.stderr).strip() or "(no output)"


def _new_run_dir(root: Path, project: Path) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path, n = root / f"{project.name}-{stamp}", 1
    while path.exists():
        n += 1
        path = root / f"{project.name}-{stamp}-{n}"
    path.mkdir(parents=True)
    return path
