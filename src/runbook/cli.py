"""`runbook`: list, run and validate the migration runbooks.

Exit codes: 0 success, 1 a runbook failed, 2 bad input (nothing was changed).
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import os
import shutil
import signal
import sys
import threading
from pathlib import Path

from . import databases, django_versions, guards, notebooks, operator_mode
from .errors import BadInput
from .executor import CELL_TIMEOUT, RUN_TIMEOUT, Interrupted, Progress, RunOptions, run
from .paths import AUDIT_ROOT, EXECUTED, RECORDS
from .validate import validate

DEFAULT_ENGINES = ["sqlite"]  # what `validate` runs on without --engine
PROCEDURE_HELP = ("with --project, which of the runbook's alternative procedures runs, one per situation its "
                  "page describes (without it, a runbook that has alternatives names them and what each is for) "
                  "(default: the runbook's only procedure)")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        with _sigterm_stops_like_ctrl_c():
            return args.command(args)
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        where = f"{exc.record.error}; " if isinstance(exc, Interrupted) else "interrupted; "
        print(f"error: {where}temporary databases and folders were removed", file=sys.stderr)
        return 130
    except databases.DropFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `runbook plan … | head`: the reader has what they wanted, no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI job cancelled, `kill`): stop and clean up exactly as for Ctrl-C."""

    signal_name = "SIGTERM"


@contextlib.contextmanager
def _sigterm_stops_like_ctrl_c():
    # Without this, SIGTERM ends the process at once: no database dropped, parallel workers orphaned.
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise Terminated()
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cmd_list(args) -> int:
    for rb in notebooks.all_runbooks():
        flag = "destructive" if rb.destructive else ""
        print(f"{rb.slug:<28} {rb.page:<36} {flag:<11} {rb.title}")
    return 0


def cmd_run(args) -> int:
    runbook = notebooks.find(args.name)
    project = Path(args.project) if args.project else None
    if project is None and args.procedure is not None:
        raise BadInput("--procedure chooses what runs against --project; without --project every cell runs on a "
                       "copy of the sample project, as `runbook validate` runs them")
    if project is not None:
        runbook = runbook.with_procedure(args.procedure)
    params = _parameters(args.parameter)
    backup_dir = Path(args.backup_dir) if args.backup_dir else None
    guards.check_parameters(runbook, params)
    guards.check_run(runbook, project=project, database_url=args.database_url, allow_destructive=args.allow_destructive,
                     allow_remote=args.allow_remote_database, backup_dir=backup_dir)
    engine = databases.engine_of(args.database_url) if args.database_url else args.engine
    options = RunOptions(
        engine=engine, project=project, database_url=args.database_url, parameters=params,
        cell_timeout=args.cell_timeout, run_timeout=args.run_timeout,
        save_notebook=Path(args.output) if args.output else EXECUTED / f"{runbook.slug}-{engine}.ipynb",
        backup_dir=backup_dir,
    )
    progress = ConsoleProgress(verbose=not args.quiet)
    if project is not None:
        ask = _ask if sys.stdin.isatty() else None
        record, run_dir = operator_mode.run_on_project(runbook, options, progress, allow_dirty=args.allow_dirty,
                                                       yes=args.yes, ask=ask)
        if args.output:  # besides the one in the audit folder
            shutil.copy(run_dir / f"{runbook.slug}.ipynb", args.output)
        return 0 if record.passed else 1
    record = run(runbook, options, progress)
    print(f"executed notebook: {options.save_notebook}")
    return 0 if record.passed else 1


def cmd_plan(args) -> int:
    runbook = notebooks.find(args.name).with_procedure(args.procedure)
    params = _parameters(args.parameter)
    guards.check_parameters(runbook, params)
    if args.database_url:
        guards.check_database_url(args.database_url)
    plan = operator_mode.make_plan(runbook, Path(args.project), args.database_url, params, args.allow_dirty)
    print(operator_mode.format_plan(plan))
    return 0 if plan.holds else 2


def cmd_doctor(args) -> int:
    from .doctor.command import doctor  # its own modules: src/runbook/doctor/

    return doctor(args.project, args.database_url, args.target, args.json, args.python)


def _ask(prompt: str) -> str:
    try:
        return input(prompt)
    except EOFError:
        return ""


def cmd_validate(args) -> int:
    selected = [notebooks.find(n) for n in args.names] if args.names else notebooks.all_runbooks()
    engines = args.engine or DEFAULT_ENGINES
    djangos = selected_djangos(args)
    for django in djangos:
        django_versions.environment(django)  # bad input before anything runs: unknown, or not installed
    for engine in engines:
        if engine not in databases.ENGINES:
            raise BadInput(f"unknown engine {engine!r}: choose from {', '.join(databases.ENGINES)}")
        if engine != "sqlite":
            databases.Database(databases.SERVER_URLS[engine]).check_reachable()
    passed, failed = validate(
        selected, engines, records_dir=Path(args.records), executed_dir=EXECUTED,
        progress=lambda stream: ConsoleProgress(verbose=args.verbose, stream=stream),
        jobs=args.jobs, use_cache=not args.no_cache, preload=args.preload, djangos=djangos,
        cell_timeout=args.cell_timeout, run_timeout=args.run_timeout, out=sys.stdout,
    )
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def selected_djangos(args) -> tuple[str, ...]:
    """`validate`'s Django versions: those given with --django, once each, else every configured one."""
    return tuple(dict.fromkeys(args.django or django_versions.VERSIONS))


class ConsoleProgress(Progress):
    """One line per cell; with verbose, the commands' output as it streams."""

    def __init__(self, verbose: bool = True, stream=sys.stdout):
        self.verbose = verbose
        self.out = stream

    def run_started(self, runbook, engine, django=None):
        on = f"{engine}, Django {django}" if django else engine
        print(f"▶ {runbook.slug} on {on}", file=self.out, flush=True)

    def cell_started(self, cell, commands):
        if self.verbose and commands:
            for command in commands:
                print(f"  $ {command}", file=self.out, flush=True)

    def cell_output(self, text):
        if self.verbose:
            for line in text.splitlines():
                print(f"  │ {line}", file=self.out)
            self.out.flush()

    def cell_finished(self, cell, record):
        mark = {"passed": "✓", "expected-failure": "✓", "skipped": "–"}.get(record.outcome, "✗")
        detail = record.outcome
        if record.outcome == "expected-failure":
            detail = f"failed as expected (exit {record.exit})"
        elif record.error:
            detail = record.error
        print(f"  {mark} {cell.id:<32} {record.duration:6.1f}s  {detail}", file=self.out, flush=True)

    def note(self, text):
        print(f"  ● {text}", file=self.out, flush=True)

    def run_finished(self, record):
        mark = "✓ passed" if record.passed else "✗ FAILED"
        print(f"{mark}: {record.runbook} on {record.engine} in {record.duration:.1f}s", file=self.out)
        if record.error:
            print(f"  {record.error}", file=self.out)
        self.out.flush()


def _parameters(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise BadInput(f"malformed parameter {pair!r}: use -p name=value")
        params[key] = value
    return params


def _jobs(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1: {text!r}")
    return int(text)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


class _OneLineErrors(argparse.ArgumentParser):
    """Usage errors as one line and exit 2, like every other bad input."""

    def error(self, message):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def _tilde(path) -> str:
    """A path under the home folder as the reader's shell would write it."""
    home = str(Path.home())
    return "~" + str(path)[len(home):] if str(path).startswith(home + "/") else str(path)


def _version() -> str:
    try:
        return importlib.metadata.version("validated-runbooks")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineErrors(prog="runbook", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND", parser_class=_OneLineErrors)

    p = sub.add_parser("list", help="list the runbooks, their pages and whether they are destructive")
    p.set_defaults(command=cmd_list)

    timeouts = argparse.ArgumentParser(add_help=False)
    timeouts.add_argument("--cell-timeout", type=_positive, default=CELL_TIMEOUT, metavar="SECONDS",
                          help=f"kill a cell after this long (default: {CELL_TIMEOUT:g})")
    timeouts.add_argument("--run-timeout", type=_positive, default=RUN_TIMEOUT, metavar="SECONDS",
                          help=f"stop a runbook after this long (default: {RUN_TIMEOUT:g})")

    p = sub.add_parser("run", parents=[timeouts], help="run one runbook, showing each cell as it runs")
    p.add_argument("name", help="the runbook, as `runbook list` names it")
    p.add_argument("--project", metavar="PATH",
                   help="run against this Django project, in place (default: a fresh copy of the sample project)")
    p.add_argument("--database-url", metavar="URL",
                   help="run against this database (default: a fresh scratch database on --engine)")
    p.add_argument("--engine", choices=databases.ENGINES, default="sqlite",
                   help="engine of the scratch database (default: %(default)s)")
    p.add_argument("-p", "--parameter", action="append", default=[], metavar="KEY=VALUE",
                   help="set a runbook parameter (papermill's `parameters` cell)")
    p.add_argument("--procedure", metavar="NAME", help=PROCEDURE_HELP)
    p.add_argument("--allow-destructive", action="store_true",
                   help="let a runbook that deletes data or migrations run against --project")
    p.add_argument("--allow-remote-database", action="store_true",
                   help="with --allow-destructive, also let it run on a database on another host")
    p.add_argument("--backup-dir", metavar="DIR",
                   help="with --project: where the run's audit folder DIR/<project>-<time>/ is made, outside the "
                        "project; it keeps the plan, the executed notebook, the record, copies of the files the "
                        "runbook may change and the verified backup taken before the first step that deletes data "
                        f"(default: {_tilde(AUDIT_ROOT)}); the runner never deletes it")
    p.add_argument("--allow-dirty", action="store_true",
                   help="with --project, run although the git tree has uncommitted or untracked changes "
                        "(the files the runbook may change are copied first)")
    p.add_argument("--yes", action="store_true",
                   help="with --project, answer yes to the confirmation before a step that deletes data")
    p.add_argument("--output", metavar="PATH",
                   help="where to save the executed notebook; with --project a copy of the audit folder's "
                        f"(default: {_tilde(EXECUTED)}/<runbook>-<engine>.ipynb; with --project none)")
    p.add_argument("-q", "--quiet", action="store_true", help="one line per cell, no command output")
    p.set_defaults(command=cmd_run)

    p = sub.add_parser("plan", help="show what `run --project` would do, changing nothing")
    p.add_argument("name", help="the runbook, as `runbook list` names it")
    p.add_argument("--project", metavar="PATH", required=True, help="your Django project")
    p.add_argument("--database-url", metavar="URL", help="the database your project uses")
    p.add_argument("-p", "--parameter", action="append", default=[], metavar="KEY=VALUE",
                   help="set a runbook parameter")
    p.add_argument("--procedure", metavar="NAME", help=PROCEDURE_HELP)
    p.add_argument("--allow-dirty", action="store_true", help="as for `run`")
    p.set_defaults(command=cmd_plan)

    p = sub.add_parser("doctor", help="read-only: what is wrong with a project's migrations and finflo rows, and "
                                      "the page and `runbook plan` that fix each (exit 0 healthy, 1 findings)")
    p.add_argument("--project", metavar="PATH", required=True, help="your Django project (the folder of manage.py)")
    p.add_argument("--database-url", metavar="URL",
                   help="the database to check (default: the one the project's settings name, as they are)")
    p.add_argument("--target", metavar="APP:MIGRATION",
                   help="also list the operations that cannot be undone on the way back to this migration")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--python", metavar="PATH",
                   help="the Python with the project's Django (default: the project's .venv, venv or env if it "
                        "has one, else the Python runbook runs with)")
    p.set_defaults(command=cmd_doctor)

    p = sub.add_parser("validate", parents=[timeouts], help="run runbooks on fresh databases and record the results")
    p.add_argument("names", nargs="*", metavar="NAME", help="runbooks to validate (default: all)")
    p.add_argument("--engine", action="append", choices=databases.ENGINES, metavar="ENGINE",
                   help=f"sqlite, postgresql or mariadb; repeat for several (default: {' '.join(DEFAULT_ENGINES)})")
    p.add_argument("--django", action="append", metavar="VERSION",
                   help=f"the Django series to validate on, each in its own environment made by scripts/install; "
                        f"repeat for several (default: every one, {' '.join(django_versions.VERSIONS)})")
    p.add_argument("--records", default=str(RECORDS), metavar="DIR",
                   help="where to write the run records (default: %(default)s)")
    p.add_argument("-v", "--verbose", action="store_true", help="stream each command's output")
    p.add_argument("--jobs", type=_jobs, default=os.cpu_count() or 1, metavar="N",
                   help="run this many runbook × engine runs at once, each printed when it ends; "
                        "1 shows each cell live (default: the number of cores)")
    p.add_argument("--no-cache", action="store_true",
                   help="run every runbook, even those whose record is current (default: reuse them)")
    p.add_argument("--preload", action=argparse.BooleanOptionalAction, default=True,
                   help="serve each `python manage.py …` by forking a process that has imported Django's "
                        "libraries (never the project); a command it cannot serve faithfully runs as a real "
                        "process, and with --no-preload every command does; each record names its mode "
                        "(default: --preload)")
    p.set_defaults(command=cmd_validate)
    return parser


if __name__ == "__main__":
    sys.exit(main())
