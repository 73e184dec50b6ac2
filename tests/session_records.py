"""Where a test session keeps the records of its full validations, so that they run once.

tests/runbooks/ validate every runbook on every engine into ``SHARED_RECORDS``; tests/test_site.py
starts from that folder's SQLite records. The suite runs in several pytest-xdist workers: the folder
is the session's, above each worker's own, and a lock per engine lets one worker validate while
another that needs the same records waits, then finds them current (`runbook validate` reuses a
record whose cache key is current). A worker that would wait first validates an engine nobody has
taken yet: two validations at once use the cores one leaves idle (its commands wait on databases
and kernels), where waiting used none.
"""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

SHARED_RECORDS = "records-every-engine"
"""Every runbook validated once per engine per session, on every Django version, with `runbook
validate` as CI runs it (preloaded, the default)."""

REPO = Path(__file__).resolve().parents[1]

_validated: dict[str, subprocess.CompletedProcess] = {}


def shared_records(base: Path) -> Path:
    """The folder of the shared records, for a worker whose own temporary folder is ``base``: in the
    session's folder, which holds each xdist worker's."""
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / SHARED_RECORDS
    folder.mkdir(exist_ok=True)
    return folder


def validated_records(engine: str, folder: Path) -> subprocess.CompletedProcess:
    """Every runbook on ``engine`` with every Django version, its records in ``folder``: run by the
    first worker that asks, reused (current in the cache) by the others."""
    if engine not in _validated:
        with open(_lock_path(folder, engine), "w") as lock:
            if not _try_lock(lock):
                _validate_one_nobody_has_taken(folder, besides=engine)
                fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            _validated[engine] = _validate(engine, folder)
    return _validated[engine]


def _validate_one_nobody_has_taken(folder: Path, besides: str) -> None:
    """While another worker validates ``besides``: validate the first engine whose lock is free and
    whose records this worker has not seen, if its server answers (else its tests fail as usual)."""
    from runbook import databases
    from runbook.errors import BadInput

    for engine in databases.ENGINES:
        if engine == besides or engine in _validated or (folder / f".{engine}.done").exists():
            continue
        try:
            if engine != "sqlite":
                databases.Database(databases.SERVER_URLS[engine]).check_reachable()
        except BadInput:
            continue
        with open(_lock_path(folder, engine), "w") as lock:
            if _try_lock(lock):
                _validated[engine] = _validate(engine, folder)
                return


def _lock_path(folder: Path, engine: str) -> Path:
    return folder / f".{engine}.lock"


def _try_lock(lock) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _validate(engine: str, folder: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "runbook.cli", "validate", "--engine", engine, "--records", str(folder)],
        cwd=REPO, capture_output=True, text=True, timeout=3600,  # 5 runbooks × 2 Django versions
    )
    (folder / f".{engine}.done").touch()  # tried: another worker's call finds the records current
    return proc
