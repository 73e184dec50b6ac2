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
from dataclasses import asdict, dataclass
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
    findings = [_with_fix(f, project_dir, database_url) for f in result["findings"]]
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


def _with_fix(found: dict, project: Path, database_url: str | None) -> Finding:
    fix = pages.fix_for(found["kind"])
    names = found.get("names", {})
    params = "".join(f" -p {param}={shlex.quote(str(names[key]))}" for param, key in fix.parameters if key in names)
    # A URL with a password is not printed: the operator's exported DATABASE_URL stands for it.
    shown = shlex.quote(database_url) if database_url and not urlsplit(database_url).password else '"$DATABASE_URL"'
    plan = f"runbook plan {fix.slug} --project {shlex.quote(str(project))} --database-url {shown}{params}"
    # Required names the finding does not tell (a migration to write, a settings line): the plan
    # refuses to run without them and says what each is; the line says so before the reader copies it.
    given = {param for param, key in fix.parameters if key in names}
    wanted = [name for name, meta in notebooks.find(fix.slug).parameter_help.items()
              if meta.get("required") and name not in given]
    if wanted:
        plan += f"  # and your {', '.join(f'-p {name}=…' for name in wanted)} (runbook plan says what each is)"
    return Finding(found["kind"], found["what"], found["evidence"], pages.page_path(fix), fix.how, plan)


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
