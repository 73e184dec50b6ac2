"""The runner adds nothing to a command's environment that a reader's shell would lack.

A command shown on a page must behave the same when a reader types it. Beyond the variables of the
shell that started the runner, a runbook's commands see only the database the runbook is told to
use, the runner's own bookkeeping, and what ipykernel sets for every notebook.
"""
from __future__ import annotations

import os

from runbook import notebooks
from runbook.executor import RunOptions, run

from .notebook_builder import cell, write_runbook

ALLOWED = {
    "DATABASE_URL",  # the database the runbook is told to use (its setup cell)
    "RUNBOOK_PROCESS_DIR",  # where commands record their process group, so a dead kernel's are killed
    "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED",  # no .pyc in the project; output in order
    # ipykernel's own, in every notebook: pagers off, colour and matplotlib settings, its parent.
    "CLICOLOR", "CLICOLOR_FORCE", "FORCE_COLOR", "GIT_PAGER", "PAGER", "JPY_PARENT_PID", "MPLBACKEND",
    "PYDEVD_USE_FRAME_EVAL",
    "_", "SHLVL", "OLDPWD",  # bash's own, in every shell
}


def test_commands_see_no_variable_a_readers_shell_lacks(tmp_path):
    path = write_runbook(tmp_path / "runbooks", "probe", [cell("env", "!env -0 | tr '\\0' '\\n' | cut -d= -f1 | sort")])
    record = run(notebooks.load(path), RunOptions())
    assert record.passed, record.error
    added = set(record.cell("env").output.split()) - set(os.environ)
    assert added <= ALLOWED, f"the runner adds variables a reader's shell lacks: {sorted(added - ALLOWED)}"
    assert not any(name.startswith("DJANGO_") for name in added)
