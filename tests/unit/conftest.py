"""Fast unit tests: the modules that keep users safe or decide outcomes, called in-process.

No Jupyter kernel and no database server: a test here may run ``manage.py`` on a SQLite file, and
takes at most a few seconds. ``scripts/mutation`` runs these against mutmut's mutants.
"""
from __future__ import annotations

import pytest

from runbook import notebooks

from ..notebook_builder import write_runbook


@pytest.fixture
def make_runbook(tmp_path):
    """``make_runbook(cells, destructive=False, parameters="")``: a real runbook notebook, loaded."""
    count = 0

    def make(cells, *, destructive: bool = False, parameters: str = "") -> notebooks.Runbook:
        nonlocal count
        count += 1
        path = write_runbook(tmp_path / f"runbooks-{count}", "probe", cells, destructive=destructive,
                             extra_parameters=parameters)
        return notebooks.load(path)

    return make

