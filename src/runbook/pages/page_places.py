"""Where the pages show a runbook's cells: the page (the how-to or the explanation page of the same
slug) and the section, read from the pages' Markdown sources, so that the reference and the error
index link to the section that shows a command or an error, and know which cells no page shows."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

import markdown

from .. import pagecheck
from ..databases import ENGINES
from ..paths import REPO

# The site's docs folder. A test build of a copy of docs/ still locates cells in docs/ itself: the
# macros do not hand the docs folder to PageSources (hooks/macros.py).
DOCS = REPO / "docs"
PAGES = ("how-to", "explanation")  # a runbook's cells are shown on these two pages of its slug
_FENCE = re.compile(r"^[ \t>]*(`{3,}|~{3,})")
_HEADING = re.compile(r"^(#{1,6})[ \t]+\S")


@dataclass(frozen=True)
class Place:
    """A section of a page (``anchor`` None: before the page's first section)."""

    page: str  # "how-to/rollback-migrations.md", relative to docs/
    page_title: str
    anchor: str | None
    section: str | None

    @property
    def title(self) -> str:
        """"Page › Section", as Markdown text for a link (a heading's `<app>` stays text)."""
        text = f"{self.page_title} › {self.section}" if self.section else self.page_title
        return re.sub(r"([\\`*\[\]])", r"\\\1", html.escape(text, quote=False))

    def target(self) -> str:
        """The page and anchor, as a path under docs/ (for PageSources.link)."""
        return self.page + (f"#{self.anchor}" if self.anchor else "")


def places(slug: str, docs: Path = DOCS) -> dict[str, Place]:
    """Each cell of runbook ``slug`` a page names, with the first section that names it."""
    found: dict[str, Place] = {}
    for cell_id, _, place in _named(slug, docs):
        found.setdefault(cell_id, place)
    return found


def output_places(slug: str, docs: Path = DOCS) -> dict[tuple[str, str], Place]:
    """(cell, engine) -> the first section that shows that engine's output of the cell."""
    found: dict[tuple[str, str], Place] = {}
    for cell_id, engines, place in _named(slug, docs):
        for engine in engines:
            found.setdefault((cell_id, engine), place)
    return found


def _named(slug: str, docs: Path) -> list[tuple[str, tuple[str, ...], Place]]:
    """Each macro call naming a cell of ``slug`` on its pages: the cell, the engines whose output it
    shows (`step` and `output`: SQLite unless told; `engine_outputs`: every engine), its section."""
    named = []
    for folder in PAGES:
        path = docs / folder / f"{slug}.md"
        if path.is_file():
            named += _cells_of_page(f"{folder}/{slug}.md", path.read_text(encoding="utf-8"), slug)
    return named


def _cells_of_page(uri: str, source: str, slug: str) -> list[tuple[str, tuple[str, ...], Place]]:
    headings = _headings(source)  # (line, level, anchor, name), in page order
    title = next((name for _, level, _, name in headings if level == 1), uri)
    calls, _ = pagecheck.macro_calls(pagecheck._visible(source), pagecheck.CELL_MACROS)
    result = []
    for call in calls:
        if len(call.args) < 2 or call.args[0] != slug:
            continue
        above = [h for h in headings if h[0] < call.line and h[1] > 1]
        anchor, section = (above[-1][2], above[-1][3]) if above else (None, None)
        if call.name in ("step", "output"):
            engines = (call.kwargs.get("engine", call.args[2] if len(call.args) > 2 else "sqlite"),)
        else:
            engines = ENGINES if call.name == "engine_outputs" else ()
        result.append((call.args[1], engines, Place(uri, title, anchor, section)))
    return result


def _headings(source: str) -> list[tuple[int, int, str, str]]:
    """The page's ATX headings outside code fences, with the ids MkDocs' toc extension gives them
    (rendered together, so that a repeated heading gets toc's ``_1`` suffix as on the site)."""
    lines, fence = [], None
    for number, line in enumerate(source.splitlines(), 1):
        match = _FENCE.match(line)
        if match:
            marker = match.group(1)
            if fence is None:
                fence = marker
            elif marker.startswith(fence[0]) and len(marker) >= len(fence):
                fence = None
            continue
        if fence is None and _HEADING.match(line):
            lines.append((number, line))
    md = markdown.Markdown(extensions=["toc", "attr_list"])
    # Macros in a heading would render as text here; headings on these pages hold none.
    md.convert("\n\n".join(line for _, line in lines))
    tokens = _flatten(md.toc_tokens)
    return [(number, token["level"], token["id"], html.unescape(token["name"]))
            for (number, _), token in zip(lines, tokens)]


def _flatten(tokens: list[dict]) -> list[dict]:
    flat = []
    for token in tokens:
        flat.append(token)
        flat.extend(_flatten(token["children"]))
    return flat
