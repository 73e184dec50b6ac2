"""Build small runbook notebooks for tests, the way an author would write them in Jupyter."""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

SETUP = """%load_ext runbook.shell
import os

os.chdir(project_dir)
os.environ["DATABASE_URL"] = database_url"""


def cell(cell_id: str, source: str, *, exit: int = 0, output: str | None = None, tags=(), **runbook_meta):
    meta: dict = {}
    if "parameters" not in tags:
        runbook_meta.setdefault("role", "procedure")
    expect = {k: v for k, v in (("exit", exit), ("output", output)) if v}
    if expect:
        runbook_meta["expect"] = expect
    if runbook_meta:
        meta["runbook"] = runbook_meta
    tags = list(tags) + (["raises-exception"] if exit else [])
    if tags:
        meta["tags"] = tags
    node = new_code_cell(source, metadata=meta)
    node.id = cell_id
    return node


def write_runbook(folder: Path, slug: str, cells, *, destructive: bool = False, extra_parameters: str = "") -> Path:
    nb = new_notebook(metadata={
        "runbook": {"title": f"Test runbook {slug}", "destructive": destructive},
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    })
    nb.cells = [
        cell("parameters", 'project_dir = "."\ndatabase_url = "sqlite:///db.sqlite3"\n' + extra_parameters,
             tags=["parameters"]),
        cell("setup", SETUP, hidden="runner plumbing: enters the project and sets DATABASE_URL"),
        *cells,
    ]
    nbformat.validate(nb)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{slug}.ipynb"
    nbformat.write(nb, path)
    return path
