"""The macros that show files of the sample project: an excerpt between two lines, and a runbook's
replace_in_file(...) cell as BEFORE/AFTER tabs, numbered as the file is when that cell runs."""
from __future__ import annotations

import posixpath
import re

from ..errors import BadInput
from ..paths import SAMPLE_PROJECT
from .markdown_blocks import fence, indent
from .sources import PageSources


def edit(sources: PageSources, slug: str, cell_id: str) -> str:
    path, old, new = _replace_in_file_args(sources, slug, cell_id)
    if (SAMPLE_PROJECT / path).is_file():
        text = _file_before(sources, slug, cell_id, path)
        if text.count(old) != 1:
            sources.fail(f"cell {cell_id!r} of runbook {slug!r} replaces text that occurs "
                         f"{text.count(old)} times in sampleproject/{path} (expected once)")
        before = _region(text, text.index(old), old)
        after = _region(text.replace(old, new), text.index(old), new)
    elif (SAMPLE_PROJECT / path).parent.is_dir():
        # A file an earlier cell creates (a new migration): the run itself proves `old` is in it.
        before, after = (old.strip("\n"), 1, None), (new.strip("\n"), 1, None)
    else:
        sources.fail(f"cell {cell_id!r} of runbook {slug!r} edits {path}, but sampleproject/ has no "
                     f"folder {posixpath.dirname(path) or '.'}")
    tabs = []
    for label, (lines, first, changed) in (("BEFORE", before), ("AFTER", after)):
        attrs = f'title="{path}"'
        if (SAMPLE_PROJECT / path).is_file():
            attrs += f' linenums="{first}"'
        if changed:
            attrs += f' hl_lines="{changed[0]}-{changed[1]}"'
        tabs.append(f'=== "{label}"\n\n{indent(fence("python", lines, attrs))}')
    return "\n\n".join(tabs)


def file_excerpt(sources: PageSources, path: str, start: str, end: str) -> str:
    """From the first line matching ``start`` to the next one matching ``end``, both included."""
    lines = sources.sample_file(path).read_text().splitlines()
    first = next((i for i, ln in enumerate(lines) if re.search(start, ln)), None)
    if first is None:
        sources.fail(f"no line of sampleproject/{path} matches start={start!r}")
    last = next((i for i in range(first + 1, len(lines)) if re.search(end, lines[i])), None)
    if last is None:
        sources.fail(f"no line of sampleproject/{path} after line {first + 1} matches end={end!r}")
    excerpt = "\n".join(lines[first:last + 1])
    return fence("python", excerpt, f'title="{path}" linenums="{first + 1}"')


def _file_before(sources: PageSources, slug: str, cell_id: str, path: str) -> str:
    """The sample file as the runbook has left it when ``cell_id`` runs: earlier edits applied."""
    text = sources.sample_file(path).read_text()
    for cell in sources.runbook(slug).cells:
        if cell.id == cell_id:
            break
        if any("git restore" in c and path in c.split() for c in cell.commands):
            text = sources.sample_file(path).read_text()
        elif cell.source.lstrip().startswith("replace_in_file("):
            earlier_path, earlier_old, earlier_new = _replace_in_file_args(sources, slug, cell.id)
            if earlier_path == path:
                text = text.replace(earlier_old, earlier_new, 1)
    return text


def _replace_in_file_args(sources: PageSources, slug: str, cell_id: str) -> tuple[str, str, str]:
    """The path, old and new text of a replace_in_file(...) cell with the sample's parameter values."""
    try:
        edit = sources.cell(slug, cell_id).edit_with(sources.runbook(slug).defaults)
    except BadInput:
        edit = None
    if edit is None:
        sources.fail(f"cell {cell_id!r} of runbook {slug!r} is not a replace_in_file(path, old=..., new=...) call with literal arguments")
    return edit


def _region(text: str, at: int, replaced: str, context: int = 2) -> tuple[str, int, tuple[int, int] | None]:
    """The lines around ``replaced`` (found at offset ``at``), its first line number, the changed lines.

    Blank lines at either end are left out: Markdown drops them, which would shift the numbering.
    """
    lines = text.splitlines()
    first = text.count("\n", 0, at)
    stripped = replaced.strip("\n")
    if stripped:
        first_changed = first + replaced[: len(replaced) - len(replaced.lstrip("\n"))].count("\n")
        last_changed = first_changed + stripped.count("\n")
    else:
        first_changed, last_changed = first, first - 1
    start, end = max(0, first_changed - context), min(len(lines), last_changed + context + 1)
    while start < end - 1 and not lines[start].strip():
        start += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    changed = (first_changed - start + 1, last_changed - start + 1) if stripped else None
    return "\n".join(lines[start:end]), start + 1, changed
