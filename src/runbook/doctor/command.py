"""`runbook doctor`: check the input, run checks.py inside the project, print each finding with its fix.

Exit codes: 0 healthy, 1 findings, 2 bad input (one line; nothing was changed).
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .. import databases, django_versions, guards, notebooks
from ..errors import BadInput
from ..scrub import scrub
from . import checks, pages

CHECKS_TIMEOUT = 600
_TARGET = re.compile(r"^\w+:\w+$")
_SETTINGS = re.compile(r"""DJANGO_SETTINGS_MODULE["']\s*,\s*["']([\w.]+)["']""")
# A virtualenv inside the project: its Python is the one with the project's Django and packages.
_PROJECT_VENVS = (".venv", "venv", "env")


@dataclass
class Finding:
    kind: str
    what: str
    evidence: list[str]
    page: str  # how-to/<slug>.md#<section>
    fix: str
    plan: str


def doctor(project: str, database_url: str | None, target: str | None, as_json: bool, python: str | None,
           out=sys.stdout) -> int:
    project_dir = _project(project)
    if database_url:
        guards.check_database_url(database_url)
        database_url = _absolute_sqlite(database_url, project_dir)
        databases.Database(database_url).check_reachable()
    if target is not None and not _TARGET.match(target):
        raise BadInput(f"--target {target!r}: write APP:MIGRATION, e.g. accounts:0001_initial (or accounts:zero)")
    interpreter = _python(python, project_dir)
    result = _run_checks(project_dir, database_url, target, interpreter)
    findings = [_with_fix(f, project_dir, database_url, result.get("cycle_apps", {})) for f in result["findings"]]
    if as_json:
        print(json.dumps({"project": str(project_dir), "python": result["python"], "django": result["django"],
                          "proven_on": list(django_versions.VERSIONS),
                          "database": scrub(database_url) if database_url else "as the settings say",
                          "finflo": result["finflo"], "healthy": not findings,
                          "findings": [asdict(f) for f in findings], "not_checked": result["not_checked"]},
                         indent=1), file=out)
    else:
        print(_text(project_dir, database_url, result, findings), file=out)
    return 1 if findings else 0


def _project(path: str) -> Path:
    project = Path(path).expanduser().resolve()
    if not (project / "manage.py").is_file():
        raise BadInput(f"not a Django project (no manage.py): {project}")
    return project


def _absolute_sqlite(url: str, project: Path) -> str:
    """The checks run in a scratch folder: a relative SQLite file is the project's, as for manage.py."""
    if databases.engine_of(url) != "sqlite":
        return url
    path = (project / unquote(urlsplit(url).path)[1:]).resolve()
    if not path.is_file():
        raise BadInput(f"no SQLite database at {path} (doctor creates nothing; check --database-url)")
    return f"sqlite:///{path}"


def _python(python: str | None, project: Path) -> str:
    if python:
        if not os.access(python, os.X_OK):
            raise BadInput(f"--python {python}: not an executable")
        return python
    for folder in _PROJECT_VENVS:
        candidate = project / folder / "bin" / "python"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return sys.executable


def _settings_module(project: Path) -> str:
    found = _SETTINGS.search((project / "manage.py").read_text(errors="replace"))
    if found:
        return found[1]
    if os.environ.get("DJANGO_SETTINGS_MODULE"):
        return os.environ["DJANGO_SETTINGS_MODULE"]
    raise BadInput(f"cannot tell the settings module: {project / 'manage.py'} sets no DJANGO_SETTINGS_MODULE "
                   "and the environment has none")


def _run_checks(project: Path, database_url: str | None, target: str | None, python: str) -> dict:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}  # no __pycache__ in the project
    env.setdefault("DJANGO_SETTINGS_MODULE", _settings_module(project))  # as manage.py's setdefault
    if database_url:
        env["DATABASE_URL"] = database_url
    argv = [python, checks.__file__, "--project", str(project)] + (["--target", target] if target else [])
    # A scratch current folder: finflo writes finflo.log into the current folder when it is imported.
    with tempfile.TemporaryDirectory(prefix="runbook-doctor-") as scratch:
        try:
            proc = subprocess.run(argv, cwd=scratch, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, timeout=CHECKS_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise BadInput(f"the checks did not finish within {CHECKS_TIMEOUT} s in {project}") from None
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith(checks.MARK)), None)
    if line is None:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BadInput(f"cannot run the checks in the project {project} with {python}: {last}")
    result = json.loads(line[len(checks.MARK):])
    if result.get("bad_input"):
        raise BadInput(result["bad_input"])
    return result


def _with_fix(found: dict, project: Path, database_url: str | None, cycle: dict) -> Finding:
    fix = pages.fix_for(found["kind"])
    runbook = notebooks.find(fix.slug)
    names = dict(found.get("names", {}))
    pairs = list(fix.parameters)
    procedure, cycle_notes = None, []
    if fix.procedure is not None:
        procedure = fix.procedure
        if procedure == pages.BY_GIT:  # and the page's section for that procedure
            procedure = _committed_or_not(project, cycle)
            fix = replace(fix, section=pages.SECTIONS[procedure])
        names, pairs, cycle_notes = _cycle_names(names, pairs, cycle, runbook)
    params = "".join(f" -p {param}={shlex.quote(str(names[key]))}" for param, key in pairs if key in names)
    # A URL with a password is not printed: the operator's exported DATABASE_URL stands for it.
    shown = shlex.quote(database_url) if database_url and not urlsplit(database_url).password else '"$DATABASE_URL"'
    chosen = f" --procedure {procedure}" if procedure else ""
    plan = f"runbook plan {fix.slug} --project {shlex.quote(str(project))} --database-url {shown}{chosen}{params}"
    # Required names the finding does not tell (a migration to write, a settings line): the plan
    # refuses to run without them and says what each is; the line says so before the reader copies it.
    given = {param for param, key in pairs if key in names}
    wanted = [name for name, meta in runbook.parameter_help.items() if meta.get("required") and name not in given]
    if wanted:
        plan += f"  # and your {', '.join(f'-p {name}=…' for name in wanted)} (runbook plan says what each is)"
    elif cycle_notes:
        plan += "  # " + "; ".join(cycle_notes)
    return Finding(found["kind"], found["what"], found["evidence"], pages.page_path(fix), fix.how, plan)


def _cycle_names(names: dict, pairs: list, cycle: dict, runbook) -> tuple[dict, list, list[str]]:
    """The cycle's apps as the runbook's -p user_app and -p other_app, where they are not its defaults."""
    notes = []
    found = {"user_app": cycle.get("user_app")}
    others = cycle.get("other_apps", [])
    if len(others) == 1:
        found["other_app"] = others[0]
    elif len(others) > 1:
        notes.append(f"and -p other_app=… (one of {', '.join(others)}: the app whose migrations were made again "
                     f"with {found['user_app']}'s)")
    for param, value in found.items():
        if value and value != runbook.defaults.get(param) and param in runbook.parameter_help:
            names[f"cycle:{param}"] = value
            pairs.append((param, f"cycle:{param}"))
    return names, pairs, notes


def _committed_or_not(project: Path, cycle: dict) -> str:
    """committed when git knows changed or deleted committed files in the migrations folders of the
    cycle's apps (then they can be restored from it), else never-committed."""
    folders = [f for f in cycle.get("folders", {}).values() if f]
    if not folders:
        return pages.NEVER_COMMITTED
    status = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no", "--",
                             *folders], cwd=project, capture_output=True, text=True)
    known = status.returncode == 0 and any(line.strip() for line in status.stdout.splitlines())
    return pages.COMMITTED if known else pages.NEVER_COMMITTED


def _proven(django: str) -> str:
    """Whether the pages' procedures were proven on the project's Django series."""
    proven = " and ".join(django_versions.VERSIONS)
    if django_versions.series(django) in django_versions.VERSIONS:
        return f"the pages are proven on {proven}"
    return f"NOT a version the pages are proven on ({proven})"


def _text(project: Path, database_url: str | None, result: dict, findings: list[Finding]) -> str:
    lines = [f"runbook doctor: {project}",
             f"  python: {result['python']} (Django {result['django']}: {_proven(result['django'])}); finflo "
             f"{'installed' if result['finflo'] else 'not installed: its checks are left out'}",
             f"  database: {scrub(database_url) if database_url else 'as the settings say'}", ""]
    for n, f in enumerate(findings, 1):
        lines.append(f"✗ {n}. {f.what}  [{f.kind}]")
        lines += [f"     evidence: {e}" for e in f.evidence]
        lines.append(f"     fix:      {f.page}: {f.fix}")
        lines.append(f"     plan:     {f.plan}")
        lines.append("")
    lines += [f"not checked: {text}" for text in result["not_checked"]]
    if findings:
        lines.append(f"{len(findings)} finding{'s' if len(findings) > 1 else ''}; nothing was changed")
    elif result["not_checked"]:
        lines.append("✓ no findings in what could be checked; nothing was changed")
    else:
        lines.append("✓ no findings: the migrations load, are applied and match the models"
                     + ("; finflo's rows are there" if result["finflo"] else "") + "; nothing was changed")
    return "\n".join(lines)
