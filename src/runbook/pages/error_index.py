"""The error index (reference/errors.md): every error a runbook reproduces, as its last run printed
it, beside the page that explains it. Also the line of a failed output that names its error, which
the output macro puts in the title of an expected failure."""
from __future__ import annotations

import re

from ..databases import ENGINES
from .markdown_blocks import code_cell, table, table_text
from .sources import PageSources

# "django.db.migrations.exceptions.CircularDependencyError: …" -> "CircularDependencyError: …"
_ERROR_LINE = re.compile(r"^(?:[\w.]+(?:Error|Exception)\b|Unknown command|FAILED:)")
_SHORT_EXCEPTION = re.compile(r"^(?:[a-z_][\w]*\.)+([A-Z]\w*(?:Error|Exception)\b)")


def error_index(sources: PageSources) -> str:
    rows: dict[str, list[str]] = {}
    problems, in_ci = [], {}
    for runbook in sources.all_runbooks():
        link = f"[{runbook.title}]({sources.link(f'how-to/{runbook.slug}.md')})"
        for cell in runbook.cells:
            if cell.expect.exit == 0:
                continue
            engine = next((e for e in ENGINES if cell.runs_on(e) and not sources.in_ci_only(runbook.slug, e)), None)
            if engine is None:  # reproduced on engines this machine did not validate
                in_ci.setdefault(link, []).append(f"`{cell.id}`")
                continue
            record, problem = sources.record(runbook.slug, engine)
            cell_record = record.cell(cell.id) if record else None
            if problem or cell_record is None or cell_record.outcome != "expected-failure":
                problems.append(problem or f"no recorded failure for cell {cell.id!r} of {runbook.slug!r}")
                continue
            message = _SHORT_EXCEPTION.sub(r"\1", error_line(cell_record.output))
            if message and _error_key(message) not in rows:
                rows[_error_key(message)] = [code_cell(table_text(message)), link]
    parts = [sources.problem_box("; ".join(dict.fromkeys(problems)))] if problems else []
    parts.append(table(["You see", "Go to"], list(rows.values())))
    if in_ci:
        where = "; ".join(f"{link} ({', '.join(cells)})" for link, cells in in_ci.items())
        parts.append(f"Errors of steps for PostgreSQL or MariaDB only are validated in CI, not on this machine, "
                     f"and listed here once it validates those engines: {where}.")
    return "\n\n".join(parts)


def error_line(output: str) -> str:
    """The line of a failed command's output that names the error (the last such line), else its last line."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if _ERROR_LINE.search(ln)]
    return (errors or lines or [""])[-1]


def _error_key(message: str) -> str:
    """One row per error: Django names a cycle's migrations in no fixed order."""
    head, sep, nodes = message.partition("CircularDependencyError: ")
    return head + sep + ", ".join(sorted(nodes.split(", "))) if sep else message
