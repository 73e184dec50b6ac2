"""Every page is proved by a runbook: no orphans, and no shell command a runbook does not run.

- A page docs/how-to/<slug>.md and its runbook runbooks/<slug>.ipynb come in pairs; either one
  alone stops the build.
- Every `$ ` line of a rendered console block must be a command that some runbook cell executes;
  a command typed into a page by hand stops the build, naming the page and the nearest cell.
"""
from __future__ import annotations

import difflib
import html
import re

from mkdocs.exceptions import PluginError

from runbook import notebooks
from runbook.paths import RUNBOOKS

_CONSOLE_BLOCK = re.compile(r'<div class="language-console highlight">(.*?)</code>', re.S)
_TAG = re.compile(r"<[^>]+>")


def on_files(files, config):
    pages = {f.src_uri[len("how-to/"):-len(".md")] for f in files
             if f.src_uri.startswith("how-to/") and f.src_uri.endswith(".md")}
    runbooks = {p.stem for p in RUNBOOKS.glob("*.ipynb")}
    problems = [f"docs/how-to/{slug}.md has no runbook runbooks/{slug}.ipynb" for slug in sorted(pages - runbooks)]
    problems += [f"runbooks/{slug}.ipynb has no page docs/how-to/{slug}.md" for slug in sorted(runbooks - pages)]
    if problems:
        raise PluginError("Orphans (a how-to page and its runbook share one slug):\n  " + "\n  ".join(problems))
    return files


def on_page_content(html_text, page, config, files):
    executed = _executed_commands()
    for block in _CONSOLE_BLOCK.findall(html_text):
        for line in html.unescape(_TAG.sub("", block)).splitlines():
            if not line.startswith("$ "):
                continue
            command = line[2:].strip()
            if command not in executed:
                nearest = difflib.get_close_matches(command, list(executed), n=1, cutoff=0)
                hint = ""
                if nearest:
                    slug, cell = executed[nearest[0]]
                    hint = f"; nearest: runbook {slug!r}, cell {cell!r}: $ {nearest[0]}"
                raise PluginError(
                    f"docs/{page.file.src_uri} shows `$ {command}`, which no runbook cell executes{hint}. "
                    "Show commands with {{ command(\"slug\", \"cell-id\") }}."
                )
    return html_text


def _executed_commands() -> dict[str, tuple[str, str]]:
    """Each command some runbook cell runs, with the first runbook and cell that run it."""
    executed: dict[str, tuple[str, str]] = {}
    for runbook in notebooks.all_runbooks():
        for cell in runbook.cells:
            for command in cell.commands_with(runbook.shown_values(cell)):
                executed.setdefault(command.strip(), (runbook.slug, cell.id))
    return executed
