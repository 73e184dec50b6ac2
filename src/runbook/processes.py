"""Process groups of runbook commands, so none outlives its run.

Each ``!`` command runs in a session of its own (a timeout kills its whole group). If the kernel
dies, or is shut down while a command runs (SIGINT), nothing in the kernel is left to kill the
group; so the kernel notes each group in the run's folder (``$RUNBOOK_PROCESS_DIR``) and the runner
kills whatever is still noted when the run ends.
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

ENV = "RUNBOOK_PROCESS_DIR"


def record(pgid: int) -> Path | None:
    folder = os.environ.get(ENV)
    if not folder:
        return None
    path = Path(folder) / str(pgid)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return path


def forget(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


def kill_recorded(folder: Path) -> list[int]:
    """SIGKILL every process group still noted in ``folder``; return their ids."""
    killed = []
    if not folder.is_dir():
        return killed
    for path in folder.iterdir():
        if path.name.isdigit():
            try:
                os.killpg(int(path.name), signal.SIGKILL)
                killed.append(int(path.name))
            except (ProcessLookupError, PermissionError):
                pass
        path.unlink(missing_ok=True)
    return killed
