"""What a runbook's procedure needs from an operator's project, checked before anything runs.

A runbook's metadata ``needs`` names apps (labels), models (``app_label.ModelName``), settings and
management commands. The project is asked once, read-only, through its own ``manage.py shell``
(settings are imported; the database is not touched). The programs the procedure's commands run
(``git``, ``psql`` behind ``manage.py dbshell``, ...) must be on PATH. An unmet need is bad input
(exit 2) with one line naming what is missing.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import BadInput
from .notebooks import Runbook
from .shellwords import programs

# Runs inside the operator's project; prints one JSON line with what the project has.
_PROBE = """
import json, os
from django.apps import apps
from django.conf import settings
from django.core.management import get_commands
wanted = json.loads(os.environ["RUNBOOK_NEEDS"])
print("RUNBOOK-PROBE " + json.dumps({
    "apps": [a.label for a in apps.get_app_configs()],
    "models": [m._meta.label for m in apps.get_models(include_auto_created=True)],
    "settings": [name for name in wanted.get("settings", []) if hasattr(settings, name)],
    "commands": sorted(get_commands()),
    "database": {k: str(v) for k, v in settings.DATABASES.get("default", {}).items() if k in ("ENGINE", "NAME")},
}))
"""
_KINDS = {"apps": "apps", "models": "models", "settings": "settings", "commands": "management commands",
          "programs": "programs"}
# The client `manage.py dbshell` starts on each engine (Django's DatabaseClient.executable_name).
DBSHELL_CLIENT = {"sqlite": "sqlite3", "postgresql": "psql", "mariadb": "mysql"}
# Words a shell runs itself, without looking for a program.
_BUILTINS = {"test", "[", "echo", "printf", "export", "cd", "true", "false", "set", "unset", "read", "python"}


@dataclass
class Check:
    kind: str  # apps | models | settings | commands
    needed: list[str]
    missing: list[str]

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
            return f"{what}; this project has none of them" if len(self.needed) > 1 else f"{what}; this project does not have it"
        return f"{what}; this project lacks {', '.join(self.missing)}"


def check_found(runbook: Runbook, found: dict[str, list[str]]) -> list[Check]:
    """Each declared need, with what the project (as ``probe`` found it) lacks."""
    return [Check(kind, needed, [n for n in needed if n not in found[kind]]) for kind, needed in runbook.needs.items() if needed]


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
