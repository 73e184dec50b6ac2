"""What the site's macros read: runbooks and their cells, the last validation records, files of the
sample project. Each is read once per build; a missing one stops the build with a message that
names the page being rendered.

A missing, stale or failed record is a visible warning on the page, except with
RUNBOOK_REQUIRE_RECORDS=1 (CI), where it stops the build too.
"""
from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import Callable, NoReturn

from .. import cache, notebooks, records
from ..django_versions import NEWEST, VERSIONS
from ..databases import ENGINES
from ..errors import BadInput
from ..paths import RECORDS, RUNBOOKS, SAMPLE_PROJECT


class MacroError(Exception):
    """A macro cannot be rendered from its sources: the page is wrong, the build stops."""


class PageSources:
    """The sources of one build. ``page_uri`` names the page being rendered, for links and errors."""

    def __init__(self, page_uri: Callable[[], str]):
        self.page_uri = page_uri
        self.require_records = os.environ.get("RUNBOOK_REQUIRE_RECORDS") == "1"
        self._runbooks: dict[str, notebooks.Runbook] = {}
        self._records: dict[tuple[str, str, str], tuple[records.RunRecord | None, str | None]] = {}
        self._cache_inputs = cache.Inputs()  # sample project, lock, runner: hashed once per build

    # -- the page ------------------------------------------------------------------------------

    def link(self, target: str) -> str:
        """``target`` (a path under docs/) relative to the page being rendered."""
        return posixpath.relpath(target, posixpath.dirname(self.page_uri()))

    def fail(self, message: str) -> NoReturn:
        raise MacroError(f"docs/{self.page_uri()}: {message}")

    # -- runbooks and cells --------------------------------------------------------------------

    def runbook(self, slug: str) -> notebooks.Runbook:
        if slug not in self._runbooks:
            try:
                self._runbooks[slug] = notebooks.find(slug)
            except BadInput as exc:
                self.fail(str(exc))
        return self._runbooks[slug]

    def all_runbooks(self) -> list[notebooks.Runbook]:
        return [self.runbook(p.stem) for p in sorted(RUNBOOKS.glob("*.ipynb"))]

    def cell(self, slug: str, cell_id: str) -> notebooks.Cell:
        runbook = self.runbook(slug)
        if cell_id not in runbook.cells_by_id:
            known = ", ".join(c.id for c in runbook.cells)
            self.fail(f"runbook {slug!r} has no cell {cell_id!r} (its cells: {known})")
        return runbook.cells_by_id[cell_id]

    def check_engine(self, engine: str) -> None:
        if engine not in ENGINES:
            self.fail(f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")

    # -- validation records --------------------------------------------------------------------

    def record(self, slug: str, engine: str, django: str = NEWEST) -> tuple[records.RunRecord | None, str | None]:
        """The last record of ``slug`` on ``engine`` with Django ``django``, and what is wrong with it, if anything."""
        if (slug, engine, django) not in self._records:
            runbook = self.runbook(slug)
            record = records.load(slug, engine, RECORDS, django)
            on = f"{engine} with Django {django}"
            problem = None
            if record is None:
                problem = f"no record of runbook {slug!r} on {on}"
            elif not record.passed:
                problem = f"runbook {slug!r} failed on {on}: {record.error}"
            elif not cache.is_fresh(record, runbook, self._cache_inputs):
                problem = (f"the record of runbook {slug!r} on {on} is stale: its code cells, the sample "
                           "project, the locked dependencies or the runner changed since it was made")
            if problem:
                problem += f" (run `runbook validate {slug} --engine {engine} --django {django}`)"
            self._records[slug, engine, django] = (record, problem)
        return self._records[slug, engine, django]

    def versions(self, slug: str) -> dict[str, str]:
        """finflo's version (and the engines') from any record of ``slug``, and Django's of the newest."""
        for django in reversed(VERSIONS):
            for engine in ENGINES:
                record, _ = self.record(slug, engine, django)
                if record:
                    return record.versions
        return {}

    def django_versions(self, slug: str) -> list[str]:
        """The full Django versions the records of ``slug`` ran with, oldest first: ["4.2.30", "5.2.19"]."""
        found = {}
        for django in VERSIONS:
            for engine in ENGINES:
                record, _ = self.record(slug, engine, django)
                if record and "django" in record.versions:
                    found.setdefault(django, record.versions["django"])
        return list(found.values())

    def in_ci_only(self, slug: str, engine: str) -> bool:
        """No record of another engine than SQLite, outside CI: the README's main job validates SQLite
        only, and CI validates (and its strict build requires) every engine."""
        return (not self.require_records and engine != "sqlite"
                and all(self.record(slug, engine, django)[0] is None for django in VERSIONS))

    def problem_box(self, problem: str) -> str:
        """A warning on the page in place of an output; in CI the build stops instead."""
        if self.require_records:
            self.fail(problem + " [RUNBOOK_REQUIRE_RECORDS=1]")
        return f'!!! warning "No current output"\n\n    {problem}.'

    # -- the sample project --------------------------------------------------------------------

    def sample_file(self, path: str) -> Path:
        file = (SAMPLE_PROJECT / path).resolve()
        if not file.is_relative_to(SAMPLE_PROJECT) or not file.is_file():
            self.fail(f"no file sampleproject/{path}")
        return file
