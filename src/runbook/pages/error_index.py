"""The error index (the home page's "Find your error message"): each error a reader would paste into
a search, as the pages' last validation printed it, once, linked to the page section that shows
it: an engine's message counts where a page shows that engine's output of the failing command.

An error is an exception line (``django.db.migrations.exceptions.CircularDependencyError: …``,
``CommandError: …``), Django's ``Unknown command: …`` or a failed check's ``FAILED: …``; the last
such line of an expected failure's output names it. A failure whose output has none (a `migrate
--check` plan line, a diff of checksums, a migration's "Create model …") has no row. Neither has
the sample-only mechanism's ``ModuleNotFoundError`` (runbooks/README.md): a demonstration copied
into another project stops with it on purpose; it is not a reader's error.

Also the line of a failed output that names its error (``error_line``), which the output macro
puts in the title of an expected failure.
"""
from __future__ import annotations

import re

from ..databases import ENGINES
from ..pagecheck import SAMPLE_ONLY_SETTINGS
from .markdown_blocks import code_cell, table, table_text
from .page_places import output_places
from .record_wording import ENGINE_NAMES
from .sources import PageSources

_ERROR_LINE = re.compile(r"^(?:[\w.]+(?:Error|Exception)\b|Unknown command|FAILED:)")
# What a reader pastes: an exception (dotted or not) with its message, Django's unknown command, a
# failed check. Exception names end in Error or Exception, or come from an `exceptions` module
# (django.db.migrations.exceptions.InconsistentMigrationHistory).
_READER_ERROR = re.compile(
    r"^(?:(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception)(?::\s.*)?"
    r"|(?:[a-z_]\w*\.)+exceptions\.[A-Z]\w*:\s.+"
    r"|Unknown command: .+"
    r"|FAILED: .+)$")
_SAMPLE_ONLY_MODULE = SAMPLE_ONLY_SETTINGS.partition("=")[2]  # config.sample_only


def error_index(sources: PageSources) -> str:
    rows: dict[str, tuple[str, str, list[str]]] = {}  # key -> message, link, engines
    problems, unrecorded = [], {}
    for runbook in sources.all_runbooks():
        shown = output_places(runbook.slug)
        for cell in runbook.cells:
            if cell.expect.exit == 0:
                continue
            # Only what a page shows, linked to the section that shows it: an engine's message no page
            # shows would send the reader to a section without it.
            for engine in (e for e in ENGINES if cell.runs_on(e) and (cell.id, e) in shown):
                place = shown[cell.id, engine]
                link = f"[{place.title}]({sources.link(place.target())})"
                if sources.in_ci_only(runbook.slug, engine):
                    unrecorded.setdefault(engine, set()).add(runbook.slug)
                    continue
                record, problem = sources.record(runbook.slug, engine)
                cell_record = record.cell(cell.id) if record else None
                if problem or cell_record is None or cell_record.outcome != "expected-failure":
                    problems.append(problem or f"no recorded failure for cell {cell.id!r} of {runbook.slug!r} on {engine}")
                    continue
                message = reader_error(cell_record.output)
                if message is None:
                    continue
                key = _error_key(message)
                rows.setdefault(key, (message, link, []))[2].append(engine)
    parts = [sources.problem_box("; ".join(dict.fromkeys(problems)))] if problems else []
    parts.append(table(["You see", "Where it is explained", "Seen on"], [
        [code_cell(table_text(message)), link, ", ".join(ENGINE_NAMES[e] for e in dict.fromkeys(engines))]
        for message, link, engines in rows.values()]))
    if unrecorded:
        engines = " and ".join(ENGINE_NAMES[e] for e in ENGINES if e in unrecorded)
        parts.append(f"This build has no record of {engines}: the errors the pages show for "
                     f"{'it' if len(unrecorded) == 1 else 'them'} are not listed.")
    return "\n\n".join(parts)


def reader_error(output: str) -> str | None:
    """The error a reader would search for in a failed command's output (its last error line), or
    None: an output without one, or the sample-only mechanism's stop."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if _READER_ERROR.match(ln)]
    if not errors or _SAMPLE_ONLY_MODULE in errors[-1]:
        return None
    return errors[-1]


def error_line(output: str) -> str:
    """The line of a failed command's output that names the error (the last such line), else its last line."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    # Python's "Exception ignored in: …" report of a clean-up after the error is not the error.
    ignored = next((i for i, ln in enumerate(lines) if ln.startswith("Exception ignored in")), None)
    if ignored and any(_ERROR_LINE.search(ln) for ln in lines[:ignored]):
        lines = lines[:ignored]
    errors = [ln for ln in lines if _ERROR_LINE.search(ln)]
    return (errors or lines or [""])[-1]


def _error_key(message: str) -> str:
    """One row per error: Django names a cycle's migrations in no fixed order."""
    head, sep, nodes = message.partition("CircularDependencyError: ")
    return head + sep + ", ".join(sorted(nodes.split(", "))) if sep else message
