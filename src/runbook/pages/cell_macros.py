"""The macros that show one runbook cell: its shell commands and the output its last validation
recorded, on one engine or on each. A page names the cell; the text comes from the notebook and the
record only."""
from __future__ import annotations

from ..databases import ENGINES
from ..django_versions import VERSIONS
from .error_index import error_line
from .markdown_blocks import fence, indent
from .record_wording import ENGINE_NAMES, ci_note, engine_list
from .sources import PageSources


def command(sources: PageSources, slug: str, cell_id: str) -> str:
    cell = sources.cell(slug, cell_id)
    if not cell.commands:
        sources.fail(f"cell {cell_id!r} of runbook {slug!r} runs no shell command (no `!` line)")
    lines, continued = [], False
    for line in cell.commands_with(sources.runbook(slug).shown_values(cell)):
        # A continued line (after a trailing backslash) gets no prompt of its own.
        lines.append(line if continued else f"$ {line}")
        continued = line.endswith("\\")
    return fence("console", "\n".join(lines))


def output(sources: PageSources, slug: str, cell_id: str, engine: str = "sqlite", collapsed: bool = True) -> str:
    """The cell's recorded output on ``engine``: one block where every Django version printed the
    same, else one content tab per version."""
    cell = sources.cell(slug, cell_id)
    sources.check_engine(engine)
    if not cell.runs_on(engine):
        sources.fail(f"cell {cell_id!r} of runbook {slug!r} does not run on {engine} (it runs on "
                     f"{', '.join(cell.engines)}): use engine_outputs() or engine=")
    if sources.in_ci_only(slug, engine):
        return ci_note(engine)
    shown = {django: _output_with(sources, slug, cell_id, engine, django, collapsed)
             for django in VERSIONS if cell.runs_with(django)}
    if len(set(shown.values())) == 1:
        return next(iter(shown.values()))
    return "\n\n".join(f'=== "Django {django}"\n\n{indent(block)}' for django, block in shown.items())


def _output_with(sources: PageSources, slug: str, cell_id: str, engine: str, django: str, collapsed: bool) -> str:
    record, problem = sources.record(slug, engine, django)
    cell_record = record.cell(cell_id) if record else None
    if problem is None and (cell_record is None or cell_record.outcome not in ("passed", "expected-failure")):
        outcome = cell_record.outcome if cell_record else "missing"
        problem = (f"cell {cell_id!r} of runbook {slug!r} did not pass in the last run on {engine} with Django "
                   f"{django} ({outcome}{': ' + cell_record.error if cell_record and cell_record.error else ''})")
    if problem:
        return sources.problem_box(problem)
    marker = "???" if collapsed else "???+"
    if cell_record.outcome == "expected-failure":
        last = error_line(cell_record.output)
        title = f"Output: fails as expected (exit {cell_record.exit})"
        if last:
            title += f": `{last}`" if "`" not in last else f": {last}"
        head = f'{marker} failure "{title}"'
    else:
        head = f'{marker} success "Output"'
    body = fence("text", cell_record.output.rstrip("\n")) if cell_record.output.strip() else "The command printed nothing."
    return "\n".join([head, "", indent(body)])  # where and when: once per page, in status()


def step(sources: PageSources, slug: str, cell_id: str, engine: str = "sqlite") -> str:
    return f"{command(sources, slug, cell_id)}\n\n{output(sources, slug, cell_id, engine=engine)}"


def engine_outputs(sources: PageSources, slug: str, cell_id: str) -> str:
    """One content tab per engine; an engine the cell does not run on says so in its tab."""
    cell = sources.cell(slug, cell_id)
    tabs = []
    for engine in ENGINES:
        if cell.runs_on(engine):
            body = output(sources, slug, cell_id, engine=engine, collapsed=False)
        else:
            body = (f'!!! note "Not run on {ENGINE_NAMES[engine]}"\n\n'
                    f"    This cell runs on {engine_list(cell.engines)} only.")
        tabs.append(f'=== "{ENGINE_NAMES[engine]}"\n\n{indent(body)}')
    return "\n\n".join(tabs)
