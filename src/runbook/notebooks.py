"""Runbooks as Jupyter notebooks, and what their cells declare.

Notebook metadata ``runbook`` holds the title and whether the runbook is destructive. Each cell is
named by its standard nbformat ``id``; its ``runbook`` metadata may declare:

- ``expect``: ``{"exit": 1, "output": "regex"}``: the command must end with that exit code and
  print text matching the pattern; anything else fails the run. Cells expecting a non-zero exit also
  carry the standard ``raises-exception`` tag, so papermill and nbmake let them through.
- ``engines``: the database engines the cell runs on (default: all).
- ``django``: the Django series the cell runs with (default: all), for a step that differs between
  versions (``makemigrations`` of one version writes what the other's does not).
- ``timeout``: seconds for this cell (default: the run's cell timeout).
- ``destructive``: the cell deletes data or migrations.
- ``role`` (required on every code cell but the ``parameters`` cell): ``demo`` builds or inspects
  the sample's situation (demo data, reproduced failures, the old guide's steps, checks that a
  demonstration was undone); ``procedure`` is what an operator does to fix the problem or perform
  the task; ``check`` verifies, read-only. Validation runs every role; against an operator's own
  project (``--project``) only ``procedure`` and ``check`` cells run.
- ``writes``: the project files (paths or globs, relative to the project) the cell may create or
  change. Against ``--project`` the runner copies them first and allows no other change.
- ``needs``: ``["clean-tree"]``: the cell runs only when the project had no uncommitted changes.
- ``hidden``: why the runbook's page does not show this cell (a non-empty sentence). Every other
  ``demo`` and ``procedure`` cell appears on the page, in runbook order (src/runbook/pagecheck.py).
- ``procedure``: the alternative procedure (a name of the notebook's ``procedures``) a ``procedure``
  or ``check`` cell belongs to; a cell without it belongs to every one.
Tags follow papermill and nbclient: ``parameters``, ``raises-exception``.

Notebook metadata ``runbook`` may declare ``databases`` (names of extra throwaway databases for
demonstrations: for ``["old"]`` validation creates one more scratch database and sets the parameter
``old_database_url``; only ``demo`` cells may use it), ``needs`` (the preconditions of the procedure: ``apps``,
``models``, ``settings``, ``commands``, ``migrations``, ``migration_folders``) and ``parameters`` (``{"name": {"help": ..., "required":
true}}``: what an operator sets with ``-p``; a required one has no usable default outside the
sample). Commands name parameters as ``{name}``, which IPython expands; so may expected-output
patterns, ``writes``, ``needs`` and the texts of a ``replace_in_file`` call (its arguments are
literals: a page shows them with the sample's values, a plan with the operator's). That is how a
procedure carries the operator's app and model names, the sample's being the defaults.

A page with two procedures for two situations declares them in the notebook metadata
``procedures``: ``{"name": {"when": "the situation it is for (what it does)", "needs": {...},
"changes": ["app/migrations/*"]}}``, at least two. ``needs`` adds that procedure's own
preconditions to the runbook's; ``changes`` lists the uncommitted changes (globs, with
``{parameters}``) the procedure expects, because they are the broken state it fixes: they do not
count as a dirty tree. Validation runs every cell; against an operator's project one procedure
runs, chosen with ``--procedure`` (``Runbook.with_procedure``): its cells and the unmarked ones.
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import nbformat

from .errors import BadInput
from .notebook_rules import (OPERATOR_ROLES, check_cell_metadata, check_cells, check_raw_ids,
                             check_runbook_metadata)
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
    djangos: tuple[str, ...] | None = None
    timeout: float | None = None
    destructive: bool = False
    role: str = "procedure"
    writes: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    hidden: str | None = None
    interactive: str | None = None  # a reader's step that needs a terminal: why the run cannot do it
    procedure: str | None = None  # the alternative procedure it belongs to; None: every one

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
            djangos=tuple(meta["django"]) if "django" in meta else None,
            timeout=meta.get("timeout"),
            destructive=bool(meta.get("destructive", False)),
            role=meta.get("role", "procedure"),
            writes=tuple(meta.get("writes", ())),
            needs=tuple(meta.get("needs", ())),
            hidden=meta.get("hidden"),
            interactive=meta.get("interactive"),
            procedure=meta.get("procedure"),
        )

    @property
    def for_operator(self) -> bool:
        """Runs against an operator's own project: the parameters cell, procedure and check cells."""
        return self.is_parameters or self.role in OPERATOR_ROLES

    @property
    def is_parameters(self) -> bool:
        return "parameters" in self.tags

    def in_procedure(self, name: str | None) -> bool:
        """Belongs to the alternative procedure ``name`` (None: no choice made, as validation runs)."""
        return name is None or self.procedure is None or self.procedure == name

    def runs_on(self, engine: str) -> bool:
        return self.engines is None or engine in self.engines

    def runs_with(self, django: str) -> bool:
        return self.djangos is None or django in self.djangos

    @property
    def commands(self) -> list[str]:
        """The shell commands of the cell, as a user types them (``!`` lines and ``%%bash`` bodies)."""
        lines = self.source.splitlines()
        if lines and lines[0].strip() in ("%%bash", "%%sh"):
            return [ln for ln in lines[1:] if ln.strip() and not ln.lstrip().startswith("#")]
        return [ln.strip()[1:].strip() for ln in lines if ln.strip().startswith("!")]

    def commands_with(self, values: dict[str, object]) -> list[str]:
        """The commands with ``{name}`` parameters filled in, as they run (and as pages show them)."""
        return [fill(command, values) for command in self.commands]

    def writes_with(self, values: dict[str, object]) -> list[str]:
        return [fill(pattern, values) for pattern in self.writes]

    @property
    def edits_files(self) -> bool:
        return bool(self.writes) or "replace_in_file(" in self.source

    @property
    def edit(self) -> tuple[str, str, str] | None:
        """The path, old and new text of a ``replace_in_file(...)`` cell, read from its source, never
        run; None for any other cell. BadInput if the call's arguments are not literals."""
        if not self.source.lstrip().startswith("replace_in_file("):
            return None
        try:
            call = ast.parse(self.source).body[0].value
            if not (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "replace_in_file"):
                raise ValueError
            given = dict(zip(("path", "old", "new"), (ast.literal_eval(a) for a in call.args)))
            given |= {k.arg: ast.literal_eval(k.value) for k in call.keywords}
            return given["path"], given["old"], given["new"]
        except (SyntaxError, ValueError, IndexError, AttributeError, KeyError):
            raise BadInput(f"cell {self.id!r} is not a replace_in_file(path, old=..., new=...) call "
                           "with literal arguments") from None

    def edit_with(self, values: dict[str, object]) -> tuple[str, str, str] | None:
        """The edit as it runs (runbook.shell fills the same ``{name}`` parameters in)."""
        edit = self.edit
        return None if edit is None else tuple(fill(text, values) for text in edit)


# A throwaway database's URL as pages show it in a cell that runs on one server engine only.
SHOWN_THROWAWAY_URLS = {"postgresql": "postgresql://localhost/{name}", "mariadb": "mysql://localhost/{name}"}


def fill(text: str, values: dict[str, object]) -> str:
    """Replace ``{name}`` for each known parameter, leaving other braces (regex counts, shell) alone."""
    return re.sub(r"\{([A-Za-z_]\w*)\}", lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), text)


@dataclass(frozen=True)
class Procedure:
    """One of a runbook's alternative procedures (notebook metadata ``procedures``)."""

    name: str
    when: str  # the situation it is for, and what it does
    needs: dict[str, list[str]] = field(default_factory=dict)  # besides the runbook's own
    changes: tuple[str, ...] = ()  # the uncommitted changes it fixes (globs with {parameters})


@dataclass
class Runbook:
    slug: str
    path: Path
    title: str
    destructive: bool
    cells: list[Cell] = field(repr=False)
    needs: dict[str, list[str]] = field(default_factory=dict)  # every procedure's preconditions
    parameter_help: dict[str, dict] = field(default_factory=dict)
    extra_databases: list[str] = field(default_factory=list)
    procedures: dict[str, Procedure] = field(default_factory=dict)  # alternatives; empty: one procedure
    procedure: str | None = None  # the alternative chosen for an operator's project (with_procedure)

    def with_procedure(self, name: str | None) -> "Runbook":
        """The runbook as it runs against an operator's project with ``--procedure name``: BadInput
        when the runbook has alternatives and ``name`` is not one of them, or has none and ``name`` is set."""
        if not self.procedures:
            if name is not None:
                raise BadInput(f"runbook {self.slug!r} has a single procedure: run it without --procedure; "
                               "nothing was changed")
            return self
        if name is None:
            raise BadInput(f"runbook {self.slug!r} has {len(self.procedures)} alternative procedures, one per "
                           f"situation: choose one with {self._choices()}; nothing was changed")
        if name not in self.procedures:
            raise BadInput(f"runbook {self.slug!r} has no procedure {name!r}: choose {self._choices()}; "
                           "nothing was changed")
        return replace(self, procedure=name)

    def _choices(self) -> str:
        return ", or ".join(f"--procedure {p.name} if {p.when}" for p in self.procedures.values())

    @property
    def chosen(self) -> Procedure | None:
        return self.procedures.get(self.procedure) if self.procedure else None

    @cached_property
    def cells_by_id(self) -> dict[str, Cell]:
        return {c.id: c for c in self.cells}

    def cell(self, cell_id: str) -> Cell:
        try:
            return self.cells_by_id[cell_id]
        except KeyError:
            raise BadInput(f"runbook {self.slug!r} has no cell {cell_id!r}") from None

    def shown_values(self, cell: Cell) -> dict[str, object]:
        """The parameters as pages show ``cell``'s commands: the sample's values, except that a cell
        limited to one server engine shows its throwaway databases on that engine (the parameters
        cell gives SQLite's URLs; the runner makes real ones on the engine's server)."""
        values = dict(self.defaults)
        if cell.engines is not None and len(cell.engines) == 1 and cell.engines[0] in SHOWN_THROWAWAY_URLS:
            for name in self.extra_databases:
                values[f"{name}_database_url"] = SHOWN_THROWAWAY_URLS[cell.engines[0]].format(name=name)
        return values

    @cached_property
    def defaults(self) -> dict[str, object]:
        """The parameters cell's values: the sample project's."""
        cell = next((c for c in self.cells if c.is_parameters), None)
        if cell is None:
            return {}
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            raise BadInput(f"runbook {self.slug!r}: its parameters cell is not valid Python") from None
        values: dict[str, object] = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                try:
                    values[node.targets[0].id] = ast.literal_eval(node.value)
                except ValueError:
                    raise BadInput(f"runbook {self.slug!r}: parameter {node.targets[0].id!r} is not a literal") from None
        return values

    def needs_with(self, values: dict[str, object]) -> dict[str, list[str]]:
        """The preconditions for these parameters (``"{app}"`` is the app the operator names)."""
        return {kind: [fill(name, values) for name in names] for kind, names in self.operator_needs.items()}

    @property
    def operator_needs(self) -> dict[str, list[str]]:
        """The runbook's preconditions and the chosen procedure's own (with none chosen, every one's)."""
        chosen = [self.chosen] if self.chosen else list(self.procedures.values())
        needs = {kind: list(names) for kind, names in self.needs.items()}
        for procedure in chosen:
            for kind, names in procedure.needs.items():
                needs.setdefault(kind, []).extend(n for n in names if n not in needs[kind])
        return needs

    @property
    def operator_cells(self) -> list[Cell]:
        """What runs against an operator's project: the parameters, procedure and check cells, of the
        chosen procedure only (and the cells every procedure shares)."""
        return [c for c in self.cells if c.for_operator and c.in_procedure(self.procedure)]

    @property
    def operator_destructive(self) -> bool:
        """Deletes data or migrations when run against an operator's project."""
        return any(c.destructive for c in self.operator_cells)

    @property
    def page(self) -> str:
        """The docs page built from this runbook (same slug, see docs/how-to/)."""
        return f"how-to/{self.slug}.md"


def load(path: Path) -> Runbook:
    """Read and check a runbook; a malformed one is bad input (exit 2)."""
    try:
        check_raw_ids(path)  # before nbformat, which would rename a duplicate
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
            check_cell_metadata(path, node)
            cells.append(Cell.from_node(i, node))
    check_cells(path, cells)
    check_runbook_metadata(path, meta, cells)
    return Runbook(
        slug=path.stem, path=path, title=meta["title"],
        destructive=bool(meta.get("destructive", False)), cells=cells,
        needs={k: list(v) for k, v in meta.get("needs", {}).items()},
        parameter_help=dict(meta.get("parameters", {})),
        extra_databases=list(meta.get("databases", [])),
        procedures={name: Procedure(name, value["when"], {k: list(v) for k, v in value.get("needs", {}).items()},
                                    tuple(value.get("changes", ()))) for name, value in meta.get("procedures", {}).items()},
    )


def find(slug: str, folder: Path = RUNBOOKS) -> Runbook:
    path = folder / f"{slug}.ipynb"
    if not path.is_file():
        known = ", ".join(r.stem for r in sorted(folder.glob("*.ipynb"))) or "none"
        raise BadInput(f"unknown runbook {slug!r} (known: {known})")
    return load(path)


def all_runbooks(folder: Path = RUNBOOKS) -> list[Runbook]:
    return [load(p) for p in sorted(folder.glob("*.ipynb"))]
