"""Where a test session keeps the records of its full validations, so that they run once.

tests/runbooks/ validate every runbook on every engine into ``SHARED_RECORDS``; tests/test_site.py
starts from that folder's SQLite records. The suite runs in several pytest-xdist workers: the folder
is the session's, above each worker's own, and a lock per engine lets one worker validate while
another that needs the same records waits, then finds them current (`runbook validate` reuses a
record whose cache key is current).
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
        with open(folder / f".{engine}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            _validated[engine] = subprocess.run(
                [sys.executable, "-m", "runbook.cli", "validate", "--engine", engine, "--records", str(folder)],
                cwd=REPO, capture_output=True, text=True, timeout=3600,  # 5 runbooks × 2 Django versions
            )
    return _validated[engine]
