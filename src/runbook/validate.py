"""`runbook validate`: every runbook × engine, reused from its record when nothing changed, else run.

A passed record whose ``cache_key`` equals the current key (see :mod:`runbook.cache`) is the
result; anything else runs again, on a fresh project copy and database. Runs share nothing (each
has its own temporary folder, project copy, database and kernel), so they spread over a pool of
threads: nbclient drives each kernel from its thread's own event loop, and the work itself happens
in the kernels and the commands they start. In parallel, each run's lines are held back and
printed together when it ends; with one job the display is live.
"""
from __future__ import annotations

import io
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

from . import cache, databases, records
from .executor import Progress, RunOptions, run
from .notebooks import Runbook
from .records import RunRecord


@dataclass
class Job:
    runbook: Runbook
    engine: str
    key: str


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
    cell_timeout: float, run_timeout: float, out: TextIO,
) -> tuple[int, int]:
    """Validate each runbook on each engine; print as it goes; return (passed, failed)."""
    inputs = cache.Inputs()
    versions = server_versions(engines)
    passed = failed = 0
    todo: list[Job] = []
    for engine in engines:
        for runbook in runbooks:
            key = inputs.key(runbook, engine, versions[engine])
            previous = records.load(runbook.slug, engine, records_dir) if use_cache else None
            if previous is not None and previous.passed and previous.cache_key == key:
                print(f"✓ cached: {runbook.slug} on {engine}", file=out, flush=True)
                passed += 1
            else:
                todo.append(Job(runbook, engine, key))

    def execute(job: Job, stream: TextIO) -> RunRecord:
        options = RunOptions(
            engine=job.engine, cell_timeout=cell_timeout, run_timeout=run_timeout,
            save_notebook=executed_dir / f"{job.runbook.slug}-{job.engine}.ipynb",
        )
        record = run(job.runbook, options, progress(stream))
        record.cache_key = job.key
        records.save(record, records_dir)
        return record

    if jobs <= 1 or len(todo) <= 1:
        results = [execute(job, out) for job in todo]
    else:
        results = _in_parallel(todo, execute, jobs, out)
    for record in results:
        if record.passed:
            passed += 1
        else:
            failed += 1
    return passed, failed


def _in_parallel(todo: list[Job], execute, jobs: int, out: TextIO) -> list[RunRecord]:
    """Run ``todo`` on ``jobs`` threads; print each run's lines as one block when it ends."""
    lock = threading.Lock()

    def buffered(job: Job) -> RunRecord:
        buffer = io.StringIO()
        try:
            return execute(job, buffer)
        finally:
            with lock:
                out.write(buffer.getvalue())
                out.flush()

    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="runbook")
    try:
        futures = [pool.submit(buffered, job) for job in todo]
        results = [future.result() for future in as_completed(futures)]
    except BaseException:
        # Ctrl-C: start nothing new; the runs under way end and remove their folders and databases.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return results
