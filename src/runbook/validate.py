"""`runbook validate`: every runbook × engine × Django version, reused from its record when nothing
changed, else run.

A passed record whose ``cache_key`` equals the current key (see :mod:`runbook.cache`) is the
result; anything else runs again, on a fresh project copy and database. Runs share nothing (each
has its own temporary folder, project copy, database and kernel), so with ``jobs`` > 1 they spread
over worker processes: each run's lines are held back and printed together when it ends. With one
job the display is live. Processes rather than threads (nbclient works from threads too) so that
Ctrl-C reaches every run: each stops, kills its commands and drops its database, as a sequential
run does.
"""
from __future__ import annotations

import io
import multiprocessing
import os
import signal
import sqlite3
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

from . import cache, databases, records
from .django_versions import NEWEST
from .executor import Progress, RunOptions, run
from .notebooks import Runbook
from .records import RunRecord


@dataclass
class Job:
    runbook: Runbook
    engine: str
    django: str
    key: str

    @property
    def name(self) -> str:
        return f"{self.runbook.slug}-{self.engine}-django-{self.django}"


@dataclass(frozen=True)
class Settings:
    """What every run of one validation shares (forked workers inherit it: nothing is pickled)."""

    records_dir: Path
    executed_dir: Path
    progress: Callable[[TextIO], Progress]
    cell_timeout: float
    run_timeout: float
    preload: bool = True  # `python manage.py …` in forks of a preloaded process (runbook.preload)


def server_versions(engines: list[str]) -> dict[str, str]:
    """The version of each engine's server, asked once per validation."""
    found = {}
    for engine in engines:
        if engine == "sqlite":
            found[engine] = sqlite3.sqlite_version
        else:
            found[engine] = databases.Database(databases.SERVER_URLS[engine]).server_version()
    return found


def validate(
    runbooks: list[Runbook], engines: list[str], *, records_dir: Path, executed_dir: Path,
    progress: Callable[[TextIO], Progress], jobs: int = 1, use_cache: bool = True,
    cell_timeout: float, run_timeout: float, out: TextIO, preload: bool = True,
    djangos: tuple[str, ...] = (NEWEST,),
) -> tuple[int, int]:
    """Validate each runbook on each engine and Django version; print as it goes; return (passed, failed).

    ``preload`` False: every command a real process (``--no-preload``). The mode is part of each
    record's key, so a record of the other mode is run again, never reused."""
    settings = Settings(records_dir, executed_dir, progress, cell_timeout, run_timeout, preload)
    inputs = cache.Inputs()
    versions = server_versions(engines)
    mode = "preloaded" if preload else "processes"
    passed = failed = 0
    todo: list[Job] = []
    for django in djangos:
        for engine in engines:
            for runbook in runbooks:
                key = inputs.key(runbook, engine, versions[engine], mode, django)
                previous = _previous(runbook.slug, engine, django, settings.records_dir) if use_cache else None
                if previous is not None and previous.passed and previous.cache_key == key:
                    print(f"✓ cached: {runbook.slug} on {engine}, Django {django}", file=out, flush=True)
                    passed += 1
                else:
                    todo.append(Job(runbook, engine, django, key))
    if jobs <= 1 or len(todo) <= 1:
        results = [execute(job, settings, out) for job in todo]
    else:
        results = _in_parallel(todo, settings, jobs, out)
    for record in results:
        if record.passed:
            passed += 1
        else:
            failed += 1
    return passed, failed


def _previous(slug: str, engine: str, django: str, folder: Path) -> RunRecord | None:
    """The last record, or None when there is none or it cannot be read (then the run is redone)."""
    try:
        return records.load(slug, engine, folder, django)
    except (ValueError, TypeError, KeyError):  # half-written by hand, or from an older runner
        return None


def execute(job: Job, settings: Settings, stream: TextIO) -> RunRecord:
    """Run one runbook on one engine and Django version and save its record, with the key it was run for."""
    options = RunOptions(
        engine=job.engine, cell_timeout=settings.cell_timeout, run_timeout=settings.run_timeout,
        save_notebook=settings.executed_dir / f"{job.name}.ipynb", preload=settings.preload, django=job.django,
    )
    record = run(job.runbook, options, settings.progress(stream))
    record.cache_key = job.key
    records.save(record, settings.records_dir)
    return record


def _execute_buffered(job: Job) -> tuple[RunRecord | None, str]:
    """In a worker: the run's record (None when Ctrl-C stopped it) and everything it printed."""
    buffer = io.StringIO()
    try:
        return execute(job, _worker_settings, buffer), buffer.getvalue()
    except KeyboardInterrupt:  # the run has cleaned up; the parent reports the interruption
        return None, buffer.getvalue()


def _in_parallel(todo: list[Job], settings: Settings, jobs: int, out: TextIO) -> list[RunRecord]:
    results: list[RunRecord] = []
    interrupted = False
    # fork: the workers start at once, with the runner already imported.
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork"),
                             initializer=_start_worker, initargs=(settings,)) as pool:
        futures = [pool.submit(_execute_buffered, job) for job in todo]
        try:
            for future in as_completed(futures):
                record, printed = future.result()
                out.write(printed)
                out.flush()
                if record is None:
                    interrupted = True
                else:
                    results.append(record)
        except KeyboardInterrupt:
            for future in futures:
                future.cancel()
            # Exactly one stop per worker, however the SIGINT came (terminal or `kill -INT` of this process).
            for process in getattr(pool, "_processes", {}).values():
                if process.is_alive():
                    os.kill(process.pid, signal.SIGTERM)
            for future in futures:
                if not future.cancelled():
                    out.write(future.result()[1])
            out.flush()
            raise
    if interrupted:
        raise KeyboardInterrupt
    return results


_worker_settings: Settings


def _start_worker(settings: Settings) -> None:
    """Keep the validation's settings; leave Ctrl-C to the parent, which stops us with one SIGTERM."""
    global _worker_settings
    _worker_settings = settings
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum, frame):
    raise KeyboardInterrupt
