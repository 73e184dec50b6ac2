"""The cache key of a validation: a digest of everything a run's record depends on.

A record (outcome and scrubbed outputs) is reused while its ``cache_key`` equals the current key of
its runbook on its engine. The key covers, and only covers:

- the runbook's code cells (id, source, metadata) and the notebook's ``runbook`` metadata; not
  markdown cells, not outputs;
- the sample project: path and content of every file under ``sampleproject/`` except
  ``db.sqlite3``, ``finflo.log`` and ``__pycache__``;
- the Django version (series) and its environment's locked dependencies: its lock file
  (``constraints.txt`` for the newest, see :mod:`runbook.django_versions`) and the installed
  versions of ``DEPENDENCIES`` there;
- the engine and its server's version;
- the mode the commands ran in (``RunRecord.mode``): ``preloaded`` (forks of a preloaded process,
  `validate`'s default) or ``processes`` (`validate --no-preload`). Their outputs are proven equal
  (tests/runbooks/test_real_process_runs.py), yet each record says truthfully which mode made it, so
  a record of one mode never passes for the other: switching modes runs everything again;
- the runner's own source (``src/runbook/*.py``), since it shapes the records; not the modules
  only the site build reads (``SITE_ONLY``).

The records folder is the cache: a passed record whose key matches *is* the cached result. The
site asks :func:`is_fresh` whether a record still describes the runbook it shows (in the mode the
record names: the site publishes either).
"""
from __future__ import annotations

import hashlib
import json
from functools import cached_property
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import nbformat

from . import django_versions, paths
from .django_versions import DEPENDENCIES, NEWEST
from .errors import BadInput
from .notebooks import Runbook
from .records import MODES, Mode, RunRecord

# Bump when the key's composition changes, so that older records stop matching.
KEY_FORMAT = "3"  # 2: the mode joined the key; 3: the Django version
_PROJECT_IGNORED_NAMES = {"db.sqlite3", "finflo.log"}
_PROJECT_IGNORED_DIRS = {"__pycache__"}
_RUNNER = Path(__file__).resolve().parent
# Read by the site build, never by a run: changing them leaves every record valid.
SITE_ONLY = {"pagecheck.py"}


def installed_versions() -> dict[str, str]:
    """The installed versions, in the runner's own environment (the newest Django's), of the
    dependencies that shape a run (a test may replace this)."""
    found = {}
    for name in DEPENDENCIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


class Inputs:
    """The parts of the key shared by every runbook, computed once per validation or site build."""

    def __init__(self, sample_project: Path | None = None, constraints: Path | None = None):
        self.sample_project = sample_project or paths.SAMPLE_PROJECT
        self.constraints = constraints or paths.CONSTRAINTS
        self._other_environments: dict[str, str] = {}

    @cached_property
    def project(self) -> str:
        return _digest_files(self.sample_project, _project_files(self.sample_project))

    @cached_property
    def dependencies(self) -> str:
        """The runner's own environment: the newest Django's."""
        text = self.constraints.read_text() if self.constraints.is_file() else ""
        return _digest_json({"constraints": text, "installed": installed_versions()})

    def dependencies_of(self, django: str) -> str:
        if django == NEWEST:
            return self.dependencies
        if django not in self._other_environments:
            env = django_versions.environment(django)
            text = env.lock.read_text() if env.lock.is_file() else ""
            self._other_environments[django] = _digest_json({"constraints": text, "installed": env.installed()})
        return self._other_environments[django]

    @cached_property
    def runner(self) -> str:
        return _digest_files(_RUNNER, sorted(p for p in _RUNNER.glob("*.py") if p.name not in SITE_ONLY))

    def key(self, runbook: Runbook, engine: str, server_version: str, mode: Mode, django: str = NEWEST) -> str:
        if mode not in MODES:  # a typo would make a key no record ever matches
            raise ValueError(f"unknown mode {mode!r}: one of {', '.join(MODES)}")
        return _digest_json({
            "format": KEY_FORMAT,
            "runbook": runbook_digest(runbook.path),
            "project": self.project,
            "django": django,
            "dependencies": self.dependencies_of(django),
            "runner": self.runner,
            "engine": engine,
            "server": server_version,
            "mode": mode,
        })


def runbook_digest(path: Path) -> str:
    """Digest of what executes: code cells (id, source, metadata) and the ``runbook`` metadata."""
    nb = nbformat.read(path, as_version=4)
    cells = [
        {"id": c.get("id"), "source": c.source, "metadata": c.metadata}
        for c in nb.cells if c.cell_type == "code"
    ]
    return _digest_json({"runbook": nb.metadata.get("runbook"), "cells": cells})


def cache_key(runbook: Runbook, engine: str, server_version: str, mode: Mode, inputs: Inputs | None = None,
              django: str = NEWEST) -> str:
    return (inputs or Inputs()).key(runbook, engine, server_version, mode, django)


def is_fresh(record: RunRecord, runbook: Runbook, inputs: Inputs | None = None,
             server_version: str | None = None) -> bool:
    """Whether ``record`` still describes ``runbook`` on its engine and Django: nothing in its key changed.

    Without ``server_version`` the server is trusted to be the one the record names (the site does
    not connect to database servers); `runbook validate` passes the version it just asked for.
    """
    if not record.cache_key:
        return False
    if server_version is None:
        server_version = record.versions.get(record.engine, "")
    try:
        current = cache_key(runbook, record.engine, server_version, record.mode, inputs, record.django)
    except BadInput:  # that Django's environment is missing here: nothing says the record still holds
        return False
    return record.cache_key == current


def _project_files(root: Path) -> list[Path]:
    files = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if any(part in _PROJECT_IGNORED_DIRS for part in relative.parts):
            continue
        if path.is_file() and path.name not in _PROJECT_IGNORED_NAMES and path.suffix != ".pyc":
            files.append(path)
    return sorted(files)


def _digest_files(root: Path, files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        name = path.relative_to(root).as_posix().encode()
        content = path.read_bytes()
        # Lengths first, so that no two different file lists hash alike.
        digest.update(b"%d:%s%d:" % (len(name), name, len(content)))
        digest.update(content)
    return digest.hexdigest()


def _digest_json(value) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
