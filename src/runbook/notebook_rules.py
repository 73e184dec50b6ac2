"""What a runbook notebook may hold, checked when it loads (runbook.notebooks.load): cell ids, the
``runbook`` metadata of each cell and of the notebook, alternative procedures, expected failures.
A notebook that breaks a rule is bad input: one line naming the file, the cell and the rule.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from .databases import ENGINES
from .django_versions import VERSIONS
from .errors import BadInput

if TYPE_CHECKING:
    from .notebooks import Cell

ROLES = ("demo", "procedure", "check")
OPERATOR_ROLES = ("procedure", "check")
CELL_NEEDS = ("clean-tree",)
RUNBOOK_NEEDS = ("apps", "models", "settings", "commands", "migrations", "migration_folders")
PROCEDURE_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
PROCEDURE_KEYS = ("when", "needs", "changes")


def check_raw_ids(path: Path) -> None:
    """nbformat renames a duplicate cell id with a warning; a page naming that cell would get the wrong one."""
    seen: set[str] = set()
    data = json.loads(path.read_text(encoding="utf-8"))
    for node in data.get("cells", []) if isinstance(data, dict) else []:
        cell_id = node.get("id") if isinstance(node, dict) else None
        if cell_id in seen:
            raise BadInput(f"runbook {path.name}: duplicate cell id {cell_id!r}")
        if cell_id:
            seen.add(cell_id)


_KNOWN = {"expect": {"exit", "output"},
          "runbook": {"expect", "engines", "django", "timeout", "destructive", "role", "writes", "needs", "hidden",
                      "interactive", "procedure"}}


def check_cell_metadata(path: Path, node) -> None:
    """Cell metadata ``runbook`` holds only what the runner knows, with the right types."""
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
    unknown = [v for v in meta.get("django", []) if v not in VERSIONS]
    if unknown or not isinstance(meta.get("django", []), list):
        raise BadInput(f"{where}: unknown Django series in runbook.django {unknown or meta['django']!r} (known: {', '.join(VERSIONS)})")
    if "timeout" in meta and not (isinstance(meta["timeout"], (int, float)) and meta["timeout"] > 0):
        raise BadInput(f"{where}: runbook.timeout must be a positive number of seconds, got {meta['timeout']!r}")
    if "hidden" in meta and not (isinstance(meta["hidden"], str) and meta["hidden"].strip()):
        raise BadInput(f"{where}: runbook.hidden says why the page leaves the cell out, got {meta['hidden']!r}")
    if "parameters" in node.metadata.get("tags", ()):
        return
    if meta.get("role") not in ROLES:
        raise BadInput(f"{where}: runbook.role must be one of {', '.join(ROLES)}, got {meta.get('role')!r}")
    if "interactive" in meta and not (meta["role"] == "demo" and isinstance(meta["interactive"], str)
                                      and meta["interactive"].strip()):
        raise BadInput(f"{where}: runbook.interactive marks a demo cell and says why the run cannot do the step, "
                       f"got {meta['interactive']!r} on a {meta['role']} cell")
    if meta["role"] == "check" and (meta.get("destructive") or meta.get("writes")):
        raise BadInput(f"{where}: a check is read-only; it can neither be destructive nor write files")
    writes = meta.get("writes", [])
    if not isinstance(writes, list) or any(not isinstance(w, str) or w.startswith(("/", "..")) or "/../" in w for w in writes):
        raise BadInput(f"{where}: runbook.writes lists paths inside the project, got {writes!r}")
    needs = meta.get("needs", [])
    if not isinstance(needs, list) or set(needs) - set(CELL_NEEDS):
        raise BadInput(f"{where}: runbook.needs takes {', '.join(CELL_NEEDS)}, got {needs!r}")


def check_runbook_metadata(path: Path, meta: dict, cells: list[Cell]) -> None:
    extra = meta.get("databases", [])
    if not isinstance(extra, list) or not all(isinstance(n, str) and n.isidentifier() for n in extra):
        raise BadInput(f"runbook {path.name}: 'databases' is a list of names, got {extra!r}")
    for name in extra:
        users = [c.id for c in cells if f"{{{name}_database_url}}" in c.source and not c.is_parameters]
        wrong = [c for c in users if next(x for x in cells if x.id == c).role != "demo"]
        if wrong:
            raise BadInput(f"runbook {path.name}, cell {wrong[0]!r}: only demo cells may use the throwaway "
                           f"database {name!r}; it does not exist against an operator's project")
    needs = meta.get("needs", {})
    if not _is_needs(needs):
        raise BadInput(f"runbook {path.name}: 'needs' maps {', '.join(RUNBOOK_NEEDS)} to lists of names, got {needs!r}")
    _check_procedures(path, meta.get("procedures", {}), cells)
    params = meta.get("parameters", {})
    if not isinstance(params, dict) or not all(isinstance(v, dict) and set(v) <= {"help", "required"} for v in params.values()):
        raise BadInput(f"runbook {path.name}: 'parameters' maps a name to {{\"help\": ..., \"required\": true|false}}, got {params!r}")


def _is_needs(needs) -> bool:
    return isinstance(needs, dict) and not set(needs) - set(RUNBOOK_NEEDS) and all(
        isinstance(v, list) and all(isinstance(x, str) for x in v) for v in needs.values())


def _check_procedures(path: Path, procedures, cells: list[Cell]) -> None:
    """The alternatives a runbook declares, and the cells that say which one they belong to."""
    if not isinstance(procedures, dict) or len(procedures) == 1 or not all(
            isinstance(name, str) and PROCEDURE_NAME.match(name) and isinstance(value, dict)
            and not set(value) - set(PROCEDURE_KEYS) and isinstance(value.get("when"), str) and value["when"].strip()
            and _is_needs(value.get("needs", {}))
            and isinstance(value.get("changes", []), list) and all(isinstance(c, str) for c in value.get("changes", []))
            for name, value in procedures.items()):
        raise BadInput(f"runbook {path.name}: 'procedures' maps at least two names (lower case, digits, '-') to "
                       f"{{\"when\": \"the situation it is for (what it does)\", \"needs\": {{...}}, \"changes\": [...]}}, "
                       f"got {procedures!r}")
    known = ", ".join(procedures) or "none: the notebook metadata declares no 'procedures'"
    for cell in cells:
        if cell.procedure is None:
            continue
        where = f"runbook {path.name}, cell {cell.id!r}"
        if not isinstance(cell.procedure, str) or cell.procedure not in procedures:
            raise BadInput(f"{where}: unknown procedure in runbook.procedure {cell.procedure!r} (known: {known})")
        if cell.role not in OPERATOR_ROLES or cell.is_parameters:
            raise BadInput(f"{where}: runbook.procedure marks procedure and check cells, not a {cell.role} cell "
                           "(demonstrations run on the sample project only)")
    for name in procedures:
        if not any(c.procedure == name and c.role == "procedure" for c in cells):
            raise BadInput(f"runbook {path.name}: procedure {name!r} has no procedure cell (runbook.procedure)")


def check_cells(path: Path, cells: list[Cell]) -> None:
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
        if cell.expect.exit != 0 and not cell.expect.output:
            # Without a message pattern any failure, of any cause, would pass as the expected one.
            raise BadInput(f"runbook {path.name}, cell {cell.id!r}: an expected failure needs "
                           "runbook.expect.output, the pattern of the message it must print")
