"""The Django versions every runbook is validated on, and the environment each runs in.

Readers' projects run the Django they run, and outputs differ between versions (``makemigrations``
prints its operations differently), so a run names its version and runs its kernel and every command
with that version's Python. Each LTS series has its own lock and virtual environment, both made by
``scripts/install``: the newest is the runner's own (``.venv``, ``constraints.txt``); every older one
holds the same project beside it (``.venv-django-4.2``, locked by ``constraints-django-4.2.txt``).

Adding a series is one entry in ``VERSIONS`` and its lock. Django 6.x needs Python 3.12, which no
registry reachable from this project's machines offers yet.
"""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from . import paths
from .errors import BadInput

VERSIONS = ("4.2", "5.2")  # LTS series, oldest first
NEWEST = VERSIONS[-1]
# The installed distributions that shape a run's record (and so its cache key).
DEPENDENCIES = ("django", "finflo", "nbclient", "ipykernel")

# Asked of an environment's Python: its versions, and the folders its tracebacks name.
_ASK = ("import json, sys, sysconfig, importlib.metadata as m\n"
        "def v(n):\n"
        "    try: return m.version(n)\n"
        "    except m.PackageNotFoundError: return 'not installed'\n"
        f"print(json.dumps({{'installed': {{n: v(n) for n in {DEPENDENCIES!r}}},\n"
        "                  'purelib': sysconfig.get_paths()['purelib'], 'prefix': sys.prefix}))")


@dataclass(frozen=True)
class Environment:
    version: str  # the series: "4.2"
    python: Path
    lock: Path

    @property
    def bin(self) -> Path:
        return self.python.parent

    def installed(self) -> dict[str, str]:
        """The installed versions of ``DEPENDENCIES`` in this environment."""
        return _asked(str(self.python))["installed"]

    def folders(self) -> dict[str, str]:
        """Its site-packages and prefix, which outputs show as ``<site-packages>`` and ``<venv>``."""
        asked = _asked(str(self.python))
        return {asked["purelib"]: "<site-packages>", asked["prefix"]: "<venv>"}


def environment(version: str) -> Environment:
    """The environment of Django ``version``, checked to hold that series; bad input otherwise."""
    if version not in VERSIONS:
        raise BadInput(f"unknown Django version {version!r}: choose from {', '.join(VERSIONS)}")
    if version == NEWEST:
        env = Environment(version, Path(sys.executable), paths.CONSTRAINTS)
    else:
        folder = paths.REPO / f".venv-django-{version}"
        env = Environment(version, folder / "bin" / "python", paths.REPO / f"constraints-django-{version}.txt")
        if not env.python.is_file():
            raise BadInput(f"no environment for Django {version} ({folder}): `scripts/install` makes it, "
                           f"or validate on Django {NEWEST} only with --django {NEWEST}")
    django = env.installed()["django"]
    if not (django + ".").startswith(version + "."):
        raise BadInput(f"the environment {env.python} has Django {django}, not {version}: run `scripts/install`")
    return env


def series(full_version: str) -> str:
    """"4.2" for "4.2.30"."""
    return ".".join(full_version.split(".")[:2])


@cache
def _asked(python: str) -> dict:
    result = subprocess.run([python, "-I", "-c", _ASK], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise BadInput(f"cannot ask {python} for its Django: {(result.stderr.strip().splitlines() or ['no output'])[-1]}")
    return json.loads(result.stdout)
