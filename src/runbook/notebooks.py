"""Runbooks as Jupyter notebooks, and what their cells declare.

Notebook metadata ``runbook`` holds the title and whether the runbook is destructive. Each cell is
named by its standard nbformat ``id``; its ``runbook`` metadata may declare:

- ``expect``: ``{"exit": 1, "output": "regex"}``: the command must end with that exit code and
  print text matching the pattern; anything else fails the run. Cells expecting a non-zero exit also
  carry the standard ``raises-exception`` tag, so papermill and nbmake let them through.
- ``engines``: the database engines the cell runs on (default: all).
- ``timeout``: seconds for this cell (default: the run's cell timeout).
- ``destructive``: the cell deletes data or migrations.
Tags follow papermill and nbclient: ``parameters``, ``raises-exception``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import nbformat

from .errors import BadInput
from .paths import RUNBOOKS


@dataclass(frozen=True)
class Expectation:
    exit: int = 0
    output: str | None = None


@dataclass
class Cell:
    index: int
    id: str
    source: str
    tags: tuple[str, ...]
    expect: Expectation
    engines: tuple[str, ...] | None = None
    timeout: float | None = None
    destructive: bool = False

    @classmethod
    def from_node(cls, index: int, node) -> "Cell":
        meta = node.metadata.get("runbook", {})
        expect = Expectation(**meta.get("expect", {}))
        return cls(
            index=index,
            id=node.get("id", f"cell-{index}"),
            source=node.source,
            tags=tuple(node.metadata.get("tags", ())),
            expect=expect,
            engines=tuple(meta["engines"]) if "engines" in meta else None,
            timeout=meta.get("timeout"),
            destructive=bool(meta.get("destructive", False)),
        )

    @property
    def is_parameters(self) -> bool:
        return "parameters" in self.tags

    def runs_on(self, engine: str) -> bool:
        return self.engines is None or engine in self.engines

    @property
    def commands(self) -> list[str]:
        """The shell commands of the cell, as a user types them (``!`` lines and ``%%bash`` bodies)."""
        lines = self.source.splitlines()
        if lines and lines[0].strip() in ("%%bash", "%%sh"):
            return [ln for ln in lines[1:] if ln.strip() and not ln.lstrip().startswith("#")]
        return [ln.strip()[1:].strip() for ln in lines if ln.strip().startswith("!")]


@dataclass
class Runbook:
    slug: str
    path: Path
    title: str
    destructive: bool
    cells: list[Cell] = field(repr=False)

    @cached_property
    def cells_by_id(self) -> dict[str, Cell]:
        return {c.id: c for c in self.cells}

    def cell(self, cell_id: str) -> Cell:
        try:
            return self.cells_by_id[cell_id]
        except KeyError:
            raise BadInput(f"runbook {self.slug!r} has no cell {cell_id!r}") from None

    @property
    def page(self) -> str:
        """The docs page built from this runbook (same slug, see docs/how-to/)."""
        return f"how-to/{self.slug}.md"


def load(path: Path) -> Runbook:
    """Read and check a runbook; a malformed one is bad input (exit 2)."""
    try:
        _check_raw_ids(path)  # before nbformat, which would rename a duplicate
        nb = nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise BadInput(f"runbook file not found: {path}") from None
    except (json.JSONDecodeError, nbformat.reader.NotJSONError, UnicodeDecodeError):
        raise BadInput(f"runbook {path.name} is not a Jupyter notebook (invalid JSON)") from None
    meta = nb.metadata.get("runbook")
    if not isinstance(meta, dict) or "title" not in meta:
        raise BadInput(f"runbook {path.name} has no 'runbook' metadata with a title")
    cells = []
    for i, node in enumerate(nb.cells):
        if node.cell_type == "code":
            _check_metadata(path, node)
            cells.append(Cell.from_node(i, node))
    _check_cells(path, cells)
    return Runbook(
        slug=path.stem, path=path, title=meta["title"],
        destructive=bool(meta.get("destructive", False)), cells=cells,
    )


def _check_raw_ids(path: Path) -> None:
    """nbformat renames a duplicate cell id with a warning; a page naming that cell would get the wrong one."""
    seen: set[str] = set()
    data = json.loads(path.read_text(encoding="utf-8"))
    for node in data.get("cells", []) if isinstance(data, dict) else []:
        cell_id = node.get("id") if isinstance(node, dict) else None
        if cell_id in seen:
            raise BadInput(f"runbook {path.name}: duplicate cell id {cell_id!r}")
        if cell_id:
            seen.add(cell_id)


_KNOWN = {"expect": {"exit", "output"}, "runbook": {"expect", "engines", "timeout", "destructive"}}


def _check_metadata(path: Path, node) -> None:
    """Cell metadata ``runbook`` holds only what the runner knows, with the right types."""
    from .databases import ENGINES

    where = f"runbook {path.name}, cell {node.get('id', '?')!r}"
    meta = node.metadata.get("runbook", {})
    if not isinstance(meta, dict) or set(meta) - _KNOWN["runbook"]:
        raise BadInput(f"{where}: unknown runbook metadata {sorted(set(meta) - _KNOWN['runbook']) if isinstance(meta, dict) else meta!r} "
                       f"(known: {', '.join(sorted(_KNOWN['runbook']))})")
    expect = meta.get("expect", {})
    if not isinstance(expect, dict) or set(expect) - _KNOWN["expect"]:
        raise BadInput(f"{where}: runbook.expect takes only 'exit' and 'output', got {expect!r}")
    unknown = [e for e in meta.get("engines", []) if e not in ENGINES]
    if unknown or not isinstance(meta.get("engines", []), list):
        raise BadInput(f"{where}: unknown engine in runbook.engines {unknown or meta['engines']!r} (known: {', '.join(ENGINES)})")
    if "timeout" in meta and not (isinstance(meta["timeout"], (int, float)) and meta["timeout"] > 0):
        raise BadInput(f"{where}: runbook.timeout must be a positive number of seconds, got {meta['timeout']!r}")


def _check_cells(path: Path, cells: list[Cell]) -> None:
    seen: set[str] = set()
    for cell in cells:
        if cell.id in seen:
            raise BadInput(f"runbook {path.name}: duplicate cell id {cell.id!r}")
        seen.add(cell.id)
        allows_error = "raises-exception" in cell.tags
        if allows_error != (cell.expect.exit != 0):
            raise BadInput(
                f"runbook {path.name}, cell {cell.id!r}: an expected failure needs both the "
                "'raises-exception' tag and runbook.expect.exit, never one alone"
            )


def find(slug: str, folder: Path = RUNBOOKS) -> Runbook:
    path = folder / f"{slug}.ipynb"
    if not path.is_file():
        known = ", ".join(r.stem for r in sorted(folder.glob("*.ipynb"))) or "none"
        raise BadInput(f"unknown runbook {slug!r} (known: {known})")
    return load(path)


def all_runbooks(folder: Path = RUNBOOKS) -> list[Runbook]:
    return [load(p) for p in sorted(folder.glob("*.ipynb"))]
