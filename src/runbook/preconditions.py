"""What a runbook's procedure needs from an operator's project, checked before anything runs.

A runbook's metadata ``needs`` names apps (labels), models (``app_label.ModelName``), settings,
management commands, migrations (``app_label.name``, files on disk) and migration folders (where the
procedure's commands find an app's migrations, from the project folder: ``app/migrations``, as
``MIGRATION_MODULES`` and the app's package place them); a need may name a parameter
(``"{app}"``), so a wrong ``-p`` is refused here, naming the parameter. The texts the procedure's
``replace_in_file`` edits replace must be in the project's files, once, unless an earlier step
writes that file. The project is asked once, read-only, through its own ``manage.py shell``
(settings are imported; the database is not touched). The programs the procedure's commands run
(``git``, ``psql`` behind ``manage.py dbshell``, ...) must be on PATH. An unmet need is bad input
(exit 2) with one line naming what is missing.
"""
from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BadInput
from .notebooks import Runbook, fill
from .shellwords import programs

# Runs inside the operator's project; prints one JSON line with what the project has.
_PROBE = """
import json, os
import importlib.util
from django.apps import apps
from django.conf import settings
from django.core.management import get_commands
from django.db.migrations.loader import MigrationLoader
wanted = json.loads(os.environ["RUNBOOK_NEEDS"])
migrations = []
if wanted.get("migrations"):  # the files only: a broken graph (a cycle) is what some runbooks fix
    loader = MigrationLoader(None, load=False)
    loader.load_disk()
    migrations = [f"{app}.{name}" for app, name in loader.disk_migrations]

def migrations_folder(config):
    module, _ = MigrationLoader.migrations_module(config.label)
    if module is None:
        return None
    try:
        spec = importlib.util.find_spec(module)
    except ImportError:
        spec = None
    if spec is not None and spec.submodule_search_locations:
        return list(spec.submodule_search_locations)[0]
    if module.startswith(config.name + "."):  # not there (yet): where its package would be
        return os.path.join(config.path, *module[len(config.name) + 1:].split("."))
    return None
folders = [migrations_folder(config) for config in apps.get_app_configs()] if wanted.get("migration_folders") else []
print("RUNBOOK-PROBE " + json.dumps({
    "apps": [a.label for a in apps.get_app_configs()],
    "models": [m._meta.label for m in apps.get_models(include_auto_created=True)],
    "settings": [name for name in wanted.get("settings", []) if hasattr(settings, name)],
    "commands": sorted(get_commands()),
    "migrations": migrations,
    "migration_folders": [os.path.relpath(f, os.getcwd()).replace(os.sep, "/") for f in folders if f],
    "database": {k: str(v) for k, v in settings.DATABASES.get("default", {}).items() if k in ("ENGINE", "NAME")},
}))
"""
_KINDS = {"apps": "apps", "models": "models", "settings": "settings", "commands": "management commands",
          "migrations": "migrations", "programs": "programs",
          "migration_folders": "migrations folders"}
# The client `manage.py dbshell` starts on each engine (Django's DatabaseClient.executable_name).
DBSHELL_CLIENT = {"sqlite": "sqlite3", "postgresql": "psql", "mariadb": "mysql"}
# Words a shell runs itself, without looking for a program.
_BUILTINS = {"test", "[", "echo", "printf", "export", "cd", "true", "false", "set", "unset", "read", "python"}


@dataclass
class Check:
    kind: str  # apps | models | settings | commands | migrations | migration_folders | programs
    needed: list[str]
    missing: list[str]
    given_by: list[str] = field(default_factory=list)  # the -p parameters the missing ones come from
    procedure: str = ""  # the chosen procedure whose own needs these are: its name and what it is for

    @property
    def holds(self) -> bool:
        return not self.missing

    def describe(self) -> str:
        what = f"the {_KINDS[self.kind]} {', '.join(self.needed)}"
        if self.holds:
            return f"{what}: present"
        if self.kind == "programs":
            return f"{what}; not on PATH: {', '.join(self.missing)}"
        if len(self.missing) == len(self.needed):
            lacks = f"{what}; this project has none of them" if len(self.needed) > 1 else f"{what}; this project does not have it"
        else:
            lacks = f"{what}; this project lacks {', '.join(self.missing)}"
        hints = []
        if self.kind == "migration_folders":  # the app is there, its migrations elsewhere (MIGRATION_MODULES, src/…)
            hints.append("the procedure's commands name <app>/migrations from the project folder")
        if self.given_by:
            hints.append(f"check {', '.join(f'-p {name}' for name in self.given_by)}")
        if self.procedure:  # a need of the procedure's shape, not of the parameters alone
            hints.append(f"procedure {self.procedure}")
        return lacks + (f" ({'; '.join(hints)})" if hints else "")


def check_found(runbook: Runbook, found: dict[str, list[str]], values: dict[str, object],
                unset: set[str] = frozenset()) -> list[Check]:
    """Each declared need, filled with the parameters' ``values``, with what the project (as ``probe``
    found it) lacks, and the parameters those missing names come from. A need naming a required
    parameter the operator has not set (``unset``) is left out: the sample's value says nothing."""
    checks = []
    for kind, templates in runbook.operator_needs.items():
        templates = [t for t in templates if not set(_parameters_in(t)) & unset]
        if not templates:
            continue
        needed = [fill(t, values) for t in templates]
        missing = [n for n in needed if n not in found[kind]]
        given_by = []
        for template, name in zip(templates, needed):
            for parameter in _parameters_in(template):
                if name in missing and parameter not in given_by:
                    given_by.append(parameter)
        own = runbook.chosen.needs.get(kind, []) if runbook.chosen else []
        procedure = "" if not missing or any(t not in own for t, n in zip(templates, needed) if n in missing) \
            else f"{runbook.chosen.name!r}, for when {runbook.chosen.when}"
        checks.append(Check(kind, needed, missing, given_by, procedure))
    return checks


def _parameters_in(template: str) -> list[str]:
    return re.findall(r"\{([A-Za-z_]\w*)\}", template)


def edit_checks(runbook: Runbook, values: dict[str, object], project: Path, engine: str,
                unset: set[str] = frozenset()) -> list[tuple[str, bool]]:
    """Each ``replace_in_file`` step finds its text once in the project's file (unless an earlier step
    writes that file): a wrong name in ``-p`` stops here, before any step has changed anything."""
    conditions, written = [], []
    for cell in runbook.operator_cells:
        if not cell.runs_on(engine):
            continue
        edit = cell.edit_with(values)
        if edit is not None and not set(_parameters_in(cell.edit[0] + cell.edit[1])) & unset \
                and not any(fnmatch.fnmatch(edit[0], pattern) for pattern in written):
            path, old, _ = edit
            file = project / path
            count = file.read_text(errors="replace").count(old) if file.is_file() else 0
            shown = old if len(old) <= 60 else old[:57] + "…"
            where = f"{path}" if file.is_file() else f"{path} (no such file)"
            used = [p for p in _parameters_in(cell.edit[0] + cell.edit[1]) if p in runbook.parameter_help]
            hint = f" (check {', '.join(f'-p {p}' for p in dict.fromkeys(used))})" if used and count != 1 else ""
            conditions.append((f"step {cell.id!r} finds the text it edits in {path}, once", True) if count == 1 else
                              (f"step {cell.id!r} edits {where}: the text {shown!r} is there {count} times, "
                               f"not once{hint}", False))
        written += cell.writes_with(values)
    return conditions


def program_check(runbook: Runbook, engine: str, path: str | None = None) -> Check:
    """The programs the procedure and check cells run on ``engine``, and those not on ``path``."""
    needed: list[str] = []
    for cell in runbook.operator_cells:
        if not cell.runs_on(engine):
            continue
        for command in cell.commands:
            for key, _ in programs(command):
                if key.startswith("python -m "):
                    continue
                name = DBSHELL_CLIENT[engine] if key == "manage.py dbshell" else key.split()[0]
                if name != "manage.py" and name not in _BUILTINS and name not in needed:
                    needed.append(name)
    return Check("programs", needed, [name for name in needed if shutil.which(name, path=path) is None])


def probe(project: Path, env: dict[str, str], needs: dict[str, list[str]]) -> dict[str, list[str]]:
    env = {**env, "RUNBOOK_NEEDS": json.dumps(needs), "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "--no-startup", "-c", _PROBE], cwd=project, env=env,
            capture_output=True, text=True, timeout=120,
        )
    except subprocess.TimeoutExpired:
        raise BadInput(f"the project {project} did not load within 120 s (python manage.py shell)") from None
    for line in result.stdout.splitlines():
        if line.startswith("RUNBOOK-PROBE "):
            return json.loads(line[len("RUNBOOK-PROBE "):])
    last = (result.stderr.strip().splitlines() or ["no output"])[-1]
    raise BadInput(f"cannot load the Django project {project}: {last}")


def command_env(database_url: str | None, python: Path | None = None) -> dict[str, str]:
    """The environment the project's own commands get: ``python`` (default: the runner's) first on
    PATH, the chosen database."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(python or sys.executable).parent), env.get("PATH", "")])
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env
