"""Macros (mkdocs-macros) that pull every command, output and excerpt on a page from its source.

Sources: the runbook notebooks (runbooks/<slug>.ipynb, cells named by their nbformat id), the
sample project (sampleproject/) and the records of the last `runbook validate`
(.runbook/records/<slug>/<engine>.json, or $RUNBOOK_RECORDS). Nothing on a page is typed by hand.

    {{ command("slug", "cell") }}         the cell's shell commands, as a console block
    {{ output("slug", "cell") }}          the cell's recorded output (engine="sqlite" by default)
    {{ step("slug", "cell") }}            command, then output
    {{ engine_outputs("slug", "cell") }}  the output on each engine, as content tabs
    {{ edit("slug", "cell") }}            a replace_in_file cell as BEFORE/AFTER tabs
    {{ file_excerpt("path", start="regex", end="regex") }}  lines of a sample-project file
    {{ status("slug") }}                  where and when the runbook was validated, and a download
    {{ operator_box("slug") }}            the `runbook plan` line for the reader's own project (one per procedure)
    {{ runbook_commands() }}              every page's `runbook plan`/`run` lines (reference/runbook.md)
    {{ commands_reference() }}, {{ error_index() }}, {{ status_table() }}  the reference and status pages
    {{ benchmark_results() }}             the committed benchmarks/last-results.json: table and SVG chart
    {{ doctor_findings() }}               what `runbook doctor` reports and the page section that fixes each

This module is only what mkdocs-macros calls: the entry points and one method per macro. The macros
themselves are functions in src/runbook/pages/ (cell_macros, sample_file_macros, summary_macros,
commands_reference, error_index, benchmark_results), each given the build's PageSources (pages/sources.py).

A macro naming an unknown runbook, cell, file or excerpt stops the build with a message naming
the page. Before the macros render, each page's source is checked (src/runbook/pagecheck.py, from
on_pre_page_macros, so the check runs wherever this module runs, Zensical included): every demo
and procedure cell of its runbook shown in runbook order, no typed shell.

A missing, stale or failed record is a visible warning on the page, except with
RUNBOOK_REQUIRE_RECORDS=1 (CI), where it stops the build too.
"""
from __future__ import annotations

import posixpath
import re
from pathlib import Path

from runbook import pagecheck
from runbook.pages import (benchmark_results, cell_macros, commands_reference, doctor_table, error_index,
                           sample_file_macros, summary_macros)
from runbook.pages.sources import MacroError, PageSources  # MacroError stays macros.MacroError too

MACROS = ("command", "output", "step", "engine_outputs", "edit", "file_excerpt", "status", "operator_box",
          "commands_reference", "status_table", "error_index", "benchmark_results", "runbook_commands",
          "doctor_findings")
_MACRO_LINE = re.compile(
    r"^(?P<indent>[ \t]+)\{\{(?P<call>\s*(?:%s)\s*\(.*\))\s*\}\}[ \t]*$" % "|".join(MACROS), re.M
)


def define_env(env) -> None:
    site = _Site(env)
    env.runbook_site = site
    for name in MACROS:
        env.macro(getattr(site, name), name)


def on_pre_page_macros(env) -> None:
    """Check the page's own source (src/runbook/pagecheck.py), then indent every line a macro
    produces as deep as the macro stands (in a list item, a tab)."""
    env.runbook_site.check_source(env.markdown)

    def indented(match: re.Match) -> str:
        width = len(match["indent"].expandtabs(4))
        return f"{match['indent']}{{{{ ({match['call'].strip()}) | indent({width}) }}}}"

    env.markdown = _MACRO_LINE.sub(indented, env.markdown)


def on_post_build(env) -> None:
    """Every page went through the source check; none escaped it (say, by not rendering macros)."""
    docs = Path(env.conf["docs_dir"])
    unchecked = sorted(p.relative_to(docs).as_posix() for p in docs.rglob("*.md"))
    unchecked = [uri for uri in unchecked if uri not in env.runbook_site.checked]
    if unchecked:
        raise MacroError(f"pages the macros module never saw, so unchecked: {', '.join(unchecked)}")


class _Site:
    """The macros of one build. Runbooks and records are read once per build (PageSources); each
    macro is a function of src/runbook/pages/ given those sources."""

    def __init__(self, env):
        self.env = env
        self.sources = PageSources(self._page_uri)
        self.checked: set[str] = set()  # pages whose source passed pagecheck

    # -- one cell (src/runbook/pages/cell_macros.py, sample_file_macros.py) ------------------------

    def command(self, slug: str, cell_id: str) -> str:
        return cell_macros.command(self.sources, slug, cell_id)

    def output(self, slug: str, cell_id: str, engine: str = "sqlite", collapsed: bool = True) -> str:
        return cell_macros.output(self.sources, slug, cell_id, engine=engine, collapsed=collapsed)

    def step(self, slug: str, cell_id: str, engine: str = "sqlite") -> str:
        return cell_macros.step(self.sources, slug, cell_id, engine=engine)

    def engine_outputs(self, slug: str, cell_id: str) -> str:
        return cell_macros.engine_outputs(self.sources, slug, cell_id)

    def edit(self, slug: str, cell_id: str) -> str:
        return sample_file_macros.edit(self.sources, slug, cell_id)

    def file_excerpt(self, path: str, start: str, end: str) -> str:
        return sample_file_macros.file_excerpt(self.sources, path, start, end)

    # -- a box or a whole page (summary_macros.py, commands_reference.py, error_index.py) ----------

    def status(self, slug: str) -> str:
        return summary_macros.status(self.sources, slug)

    def operator_box(self, slug: str) -> str:
        return summary_macros.operator_box(self.sources, slug)

    def runbook_commands(self) -> str:
        return summary_macros.runbook_commands(self.sources)

    def status_table(self) -> str:
        return summary_macros.status_table(self.sources)

    def benchmark_results(self) -> str:
        return benchmark_results.benchmark_results()

    def commands_reference(self) -> str:
        return commands_reference.commands_reference(self.sources)

    def error_index(self) -> str:
        return error_index.error_index(self.sources)

    def doctor_findings(self) -> str:
        return doctor_table.doctor_findings(self.sources)

    # -- the page's source -------------------------------------------------------------------------

    def check_source(self, markdown: str) -> None:
        """The page shows its runbook's cells in order and no typed shell (src/runbook/pagecheck.py)."""
        uri = self._page_uri()
        if self.env.page.meta.get("render_macros") is False:
            self.sources.fail("render_macros: false would show its macros' sources instead of what they prove")
        runbook, companion = None, None
        section, _, name = uri.partition("/")
        slug = posixpath.splitext(name)[0]
        if section == "how-to" and "/" not in name:
            runbook = self.sources.runbook(slug)
            companion = self._source(f"explanation/{slug}.md")
        elif section == "explanation" and "/" not in name and slug in self._runbook_slugs():
            # The runbook's explanation page: its demonstrations, shown from the same cells.
            runbook = self.sources.runbook(slug)
            companion = self._source(f"how-to/{slug}.md")
        try:
            pagecheck.check_page(uri, markdown, runbook, MACROS, companion)
        except pagecheck.PageError as exc:
            raise MacroError(str(exc)) from None
        self.checked.add(uri)

    def _runbook_slugs(self) -> set[str]:
        return {runbook.slug for runbook in self.sources.all_runbooks()}

    def _source(self, uri: str) -> str | None:
        path = Path(self.env.conf["docs_dir"]) / uri
        return path.read_text(encoding="utf-8") if path.exists() else None

    def _page_uri(self) -> str:
        page = getattr(self.env, "page", None)
        return page.file.src_uri if page is not None else "?"
