"""The site: built strictly from runbooks and records, and refusing pages that are not.

The records come from a real `runbook validate --engine sqlite` of every runbook into a temporary
folder (RUNBOOK_RECORDS), run once per session; the site is built with `mkdocs build --strict`.
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from runbook import notebooks

try:  # tests/ may or may not be a package (tests/test_browser.py imports this module either way)
    from .session_records import shared_records, validated_records
except ImportError:
    from session_records import shared_records, validated_records

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DOCS = REPO / "docs"
RUNBOOKS = REPO / "runbooks"
CONSOLE_BLOCK = re.compile(r'<div class="language-console highlight">(.*?)</code>', re.S)


@dataclass
class Build:
    returncode: int
    log: str
    site: Path


def validate_records(base: Path) -> Path:
    """Records of every runbook on SQLite, validated once per test session (cached under ``base``)."""
    records = base / "records"
    done = base / "records.done"
    if not done.exists():
        # The SQLite records the runbooks' tests share (validated now unless a worker did already),
        # copied: `validate` reuses each whose cache key is current, and runs the rest.
        shared = shared_records(base)
        validated_records("sqlite", shared)
        for record in shared.glob("*/django-*/sqlite.json"):
            copy = records / record.relative_to(shared)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(record, copy)
        result = subprocess.run(
            [BIN / "runbook", "validate", "--engine", "sqlite", "--records", str(records)],
            cwd=REPO, capture_output=True, text=True,
        )
        # Exit 1 (a runbook failed) still leaves records: the pages show the failure as a warning.
        assert result.returncode in (0, 1), result.stdout + result.stderr
        done.write_text(result.stdout)
    return records


def build(site: Path, records: Path, docs: Path = DOCS, **env: str) -> Build:
    """`mkdocs build --strict` of ``docs`` (a copy gets a config of its own) into ``site``."""
    config = REPO / "mkdocs.yml"
    if docs != DOCS:
        config = _config_for(docs)
    result = subprocess.run(
        [BIN / "mkdocs", "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        cwd=REPO, capture_output=True, text=True,
        env={**os.environ, "RUNBOOK_RECORDS": str(records), "NO_MKDOCS_2_WARNING": "1", **env},
    )
    return Build(result.returncode, result.stdout + result.stderr, site)


def built_site_in(base: Path) -> Build:
    """The site built from the session's records, once per session (cached under ``base``)."""
    site = base / "site"
    if not (site / "index.html").exists():
        result = build(site, validate_records(base))
        assert result.returncode == 0, result.log
    return Build(0, "", site)


def _config_for(docs: Path) -> Path:
    """mkdocs.yml with absolute paths, pointing at another docs folder."""
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    config["docs_dir"] = str(docs)
    config["hooks"] = [str(REPO / h) for h in config["hooks"]]
    config["watch"] = [str(REPO / w) for w in config.get("watch", [])]
    config["theme"]["custom_dir"] = str(REPO / config["theme"]["custom_dir"])
    for plugin in config["plugins"]:
        if isinstance(plugin, dict) and "macros" in plugin:
            plugin["macros"]["module_name"] = str(REPO / plugin["macros"]["module_name"])
    path = docs.parent / "mkdocs.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def session_base(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp()


@pytest.fixture(scope="session")
def records(session_base) -> Path:
    return validate_records(session_base)


@pytest.fixture(scope="session")
def site(session_base) -> Path:
    return built_site_in(session_base).site


@pytest.fixture
def docs_copy(tmp_path) -> Path:
    """A copy of docs/ to spoil."""
    copy = tmp_path / "docs"
    shutil.copytree(DOCS, copy)
    return copy


def console_commands(page_html: str) -> list[str]:
    """The `$ ` lines of the console blocks of a rendered page, as text."""
    commands = []
    for block in CONSOLE_BLOCK.findall(page_html):
        text = html.unescape(re.sub(r"<[^>]+>", "", block))
        commands += [line[2:].strip() for line in text.splitlines() if line.startswith("$ ")]
    return commands


# -- the real site -------------------------------------------------------------------------------

def test_every_how_to_page_has_its_runbook_and_every_runbook_its_page():
    pages = {p.stem for p in (DOCS / "how-to").glob("*.md")}
    runbooks = {p.stem for p in RUNBOOKS.glob("*.ipynb")}
    assert pages, "no how-to pages"
    assert pages == runbooks, f"pages without runbooks: {pages - runbooks}; runbooks without pages: {runbooks - pages}"


# A how-to page is the procedure (issue 25): its article's text, tags stripped, collapsed blocks
# included, stays within a budget, and its first numbered step comes within the first screen.
HOW_TO_BUDGET = 12_000
FIRST_STEP_WITHIN = 2_500
ARTICLE = re.compile(r'<article class="md-content__inner[^"]*">(.*?)</article>', re.S)


def article_text(page_html: str) -> tuple[str, int | None]:
    """The article's text, and where its first numbered step (the first ``<ol>`` item) starts in it."""
    article = ARTICLE.search(page_html).group(1)
    article = re.sub(r'<a class="headerlink"[^>]*>.*?</a>', "", article, flags=re.S)  # the ¶ permalinks
    marker = "\x00"
    first = re.search(r"<ol[^>]*>\s*<li[^>]*>", article)
    if first:
        article = article[:first.end()] + marker + article[first.end():]
    text = html.unescape(re.sub(r"<[^>]+>", "", article))
    text = re.sub(r"\s+", " ", text).strip()
    start = text.find(marker)
    return text.replace(marker, ""), (start if start >= 0 else None)


@pytest.mark.parametrize("slug", sorted(p.stem for p in RUNBOOKS.glob("*.ipynb")))
def test_a_how_to_page_is_the_procedure_on_one_screen(site, slug):
    text, first_step = article_text((site / "how-to" / slug / "index.html").read_text())
    assert len(text) <= HOW_TO_BUDGET, f"how-to/{slug}: {len(text):,} characters of article text (budget {HOW_TO_BUDGET:,})"
    assert first_step is not None, f"how-to/{slug}: no numbered procedure"
    assert first_step <= FIRST_STEP_WITHIN, f"how-to/{slug}: the first step starts at character {first_step:,}"


def test_every_page_is_built_and_every_runbook_is_published(site):
    for slug in (p.stem for p in RUNBOOKS.glob("*.ipynb")):
        assert (site / "how-to" / slug / "index.html").is_file()
        assert (site / "runbooks" / f"{slug}.ipynb").read_bytes() == (RUNBOOKS / f"{slug}.ipynb").read_bytes()
    for page in ("index.html", "status/index.html", "reference/commands/index.html",
                 "explanation/how-the-runbooks-prove-the-pages/index.html"):
        assert (site / page).is_file(), page


def test_every_navigation_title_is_its_pages_heading(site):
    home = (site / "index.html").read_text()
    titles = {}
    for link in re.finditer(r'<a href="([\w/-]+/)" class="md-nav__link">\s*<span class="md-ellipsis">(.*?)</span>', home, re.S):
        titles[link.group(1)] = html.unescape(re.sub(r"<[^>]+>", "", link.group(2))).strip()
    assert {f"how-to/{p.stem}/" for p in (DOCS / "how-to").glob("*.md")} <= set(titles), titles
    for path, title in titles.items():
        heading = re.search(r"<h1[^>]*>(.*?)</h1>", (site / path / "index.html").read_text(), re.S)
        assert title == html.unescape(re.sub(r"<[^>]+>", "", heading.group(1))).strip().rstrip("¶").strip(), path


def test_every_command_shown_is_run_by_a_runbook(site):
    from runbook import notebooks

    executed = {c.strip() for rb in notebooks.all_runbooks() for cell in rb.cells
                for c in cell.commands_with(rb.shown_values(cell))}
    shown = {}
    for page in site.rglob("*.html"):
        for command in console_commands(page.read_text()):
            shown.setdefault(command, page.relative_to(site))
    assert shown, "no console block on the site"
    assert {c: p for c, p in shown.items() if c not in executed} == {}


def test_a_cell_for_one_server_engine_shows_its_throwaway_database_on_that_engine(site):
    from runbook import notebooks

    shown = {c for page in site.rglob("*.html") for c in console_commands(page.read_text())}
    cells = [(rb, cell) for rb in notebooks.all_runbooks() for cell in rb.cells
             if cell.engines and len(cell.engines) == 1 and cell.engines[0] in notebooks.SHOWN_THROWAWAY_URLS
             and re.search(r"\{\w+_database_url\}", cell.source) and cell.role in ("demo", "procedure")]
    if not cells:
        pytest.skip("no runbook has a cell for one server engine that names a throwaway database")
    shown_on_engine = []
    for rb, cell in cells:
        name = re.search(r"\{(\w+)_database_url\}", cell.source).group(1)
        on_engine = notebooks.SHOWN_THROWAWAY_URLS[cell.engines[0]].format(name=name)
        commands = cell.commands_with(rb.shown_values(cell))
        assert any(on_engine in c for c in commands), (rb.slug, cell.id, commands)
        # The parameters cell's SQLite URL never appears in a command for another engine.
        assert not [c for c in commands if rb.defaults[f"{name}_database_url"] in c], (rb.slug, cell.id)
        shown_on_engine += [c for c in commands if c in shown]
    if not shown_on_engine:
        pytest.skip("no page shows the command of a one-server-engine cell that names a throwaway database")


def test_circular_dependency_page_shows_the_error_and_the_edits(site):
    page = (site / "how-to" / "circular-dependency" / "index.html").read_text()
    assert "CircularDependencyError" in page
    labels = re.findall(r'<label for="__tabbed_\d+_\d+">([^<]+)</label>', page)
    assert labels.count("BEFORE") >= 1 and labels.count("AFTER") >= 1, labels
    assert "python manage.py makemigrations accounts transaction" in console_commands(page)
    explanation = (site / "explanation" / "circular-dependency" / "index.html").read_text()
    assert "migration-graph-cycle.svg" in explanation and "run_before" in explanation


def test_home_page_shows_doctors_report_from_the_circular_dependency_cell(site, records):
    """The transcript is the `doctor` cell's recorded output, not text typed into docs/index.md."""
    from runbook import records as run_records

    home = (site / "index.html").read_text()
    assert 'runbook doctor --project . --database-url "$DATABASE_URL"' in console_commands(home)
    recorded = run_records.load("circular-dependency", "sqlite", records).cell("doctor")
    assert recorded.outcome == "expected-failure" and "[cycle]" in recorded.output
    shown = html.unescape(re.sub(r"<[^>]+>", "", home))
    for line in recorded.output.strip().splitlines():
        assert line.strip() in shown, f"the home page lacks the recorded line {line!r}"
    assert "runbook doctor" not in (DOCS / "index.md").read_text().replace("`runbook doctor`", "")


def test_migration_graph_is_drawn_from_django(site):
    cycle = (site / "assets" / "generated" / "migration-graph-cycle.svg").read_text()
    fixed = (site / "assets" / "generated" / "migration-graph.svg").read_text()
    assert "Generated by hooks/migration_graph.py" in cycle
    assert "finflo.0001_initial depends on accounts.0001_initial (dependency)" in cycle
    assert 'stroke="#c62828"' in cycle  # the cycle is drawn
    assert "finflo.0001_initial depends on accounts.0001_initial (run_before)" in fixed
    assert 'stroke="#c62828"' not in fixed  # no cycle in the committed migrations


def test_migration_graph_has_a_text_alternative(site):
    """The SVG names itself, and the page lists the graph's dependencies after the picture."""
    cycle = (site / "assets" / "generated" / "migration-graph-cycle.svg").read_text()
    assert 'role="img" aria-labelledby="graph-from-scratch-title graph-from-scratch-desc"' in cycle
    assert re.search(r'<desc id="graph-from-scratch-desc">[^<]*finflo\.0001_initial depends on '
                     r'accounts\.0001_initial \(dependency, on the cycle\)', cycle)
    page = (site / "explanation" / "circular-dependency" / "index.html").read_text()
    for picture in ("migration-graph-cycle.svg", "migration-graph.svg"):
        assert re.search(r'src="\.\./\.\./assets/generated/%s" /></p><details class="abstract">'
                         r"<summary>The graph as text</summary><ul><li>transaction: " % re.escape(picture), page)
    assert "<li>finflo.0001_initial depends on accounts.0001_initial (run_before).</li>" in page


def test_matrices_have_column_and_row_headers(site):
    """The status matrix and the error index: `<th scope="col">` and a `<th scope="row">` per row."""
    status = (site / "status" / "index.html").read_text()
    assert '<th scope="col">Runbook</th>' in status and '<th scope="col">Outcome</th>' in status
    assert '<th scope="row"><a href="../how-to/circular-dependency/">circular-dependency</a></th>' in status
    assert status.count('<th scope="row">') == status.count("<tr>") - status.count("<thead>")
    home = (site / "index.html").read_text()  # the error index
    assert '<th scope="col">You see</th>' in home
    assert home.count('<th scope="row"><code>') == home.count("<tr>") - home.count("<thead>")
    assert "markdown=" not in status + home  # md_in_html rendered the cells


def test_theme_overrides_change_only_what_they_say(site):
    """overrides/partials/search.html is Material's partial plus the dialog's name, nothing else.

    After a Material upgrade this fails until the override is made again from the new partial.
    """
    import material

    theirs = (Path(material.__file__).parent / "templates" / "partials" / "search.html").read_text()
    ours = (REPO / "overrides" / "partials" / "search.html").read_text()
    strip_comment = re.compile(r"\A\{#-.*?-#\}\n", re.S)
    named = theirs.replace('role="dialog">', 'role="dialog" aria-label="{{ lang.t(\'search\') }}">', 1)
    assert strip_comment.sub("", ours) == strip_comment.sub("", named)
    assert '<div class="md-search" data-md-component="search" role="dialog" aria-label="Search">' in (
        site / "index.html").read_text()


def status_rows(page_html: str) -> dict[tuple[str, str, str], list[str]]:
    """The status table as {(runbook, engine, django): [outcome, commands, cells, duration, run on, versions]}."""
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", page_html, re.S):
        if "<td" not in row:  # the header row
            continue
        cells = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                 for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]  # the runbook is a row header
        if cells:
            rows[cells[0], cells[1], cells[2]] = cells[3:]
    return rows


def test_status_and_reference_pages_come_from_the_records(records, tmp_path):
    """Each engine's row of the status table comes from that engine's record: give PostgreSQL and
    MariaDB records of their own (one passed, one failed) and each row must show its own."""
    from runbook import cache, notebooks, records as records_module

    slug = "new-work-model"
    mine = tmp_path / "records"
    shutil.copytree(records, mine)
    sqlite = records_module.load(slug, "sqlite", mine)
    assert sqlite is not None, f"no SQLite record of {slug}"
    runbook = notebooks.find(slug)
    postgresql = records_module.RunRecord.from_json(sqlite.to_json())
    postgresql.engine, postgresql.duration, postgresql.started = "postgresql", 321.5, "2026-01-02T03:04:05+00:00"
    postgresql.versions = {"django": "5.2.99", "finflo": "2.0.99", "postgresql": "PostgreSQL 15.99 (a test's record)"}
    postgresql.mode, postgresql.preload = "processes", None  # as `validate --no-preload` writes it
    postgresql.cache_key = cache.cache_key(runbook, "postgresql", postgresql.versions["postgresql"], postgresql.mode)
    records_module.save(postgresql, mine)
    mariadb = records_module.RunRecord.from_json(sqlite.to_json())
    mariadb.engine, mariadb.outcome, mariadb.error = "mariadb", "failed", "MariaDB's own record failed"
    mariadb.versions = {"django": "5.2.98", "finflo": "2.0.98", "mariadb": "10.11.98-MariaDB"}
    records_module.save(mariadb, mine)

    built = build(tmp_path / "site", mine)
    assert built.returncode == 0, built.log
    rows = status_rows((built.site / "status" / "index.html").read_text())
    expected_sqlite = "✅ passed" if sqlite.passed else f"❌ failed: {sqlite.error}"
    assert rows[slug, "SQLite", "5.2"][0] == expected_sqlite, rows[slug, "SQLite", "5.2"]
    assert rows[slug, "SQLite", "5.2"][3] == f"{sqlite.duration:.1f} s"
    # Which mode made each record: the SQLite one is `validate`'s default, the PostgreSQL one real processes.
    assert sqlite.mode == "preloaded" and sqlite.preload["forked"] > 0
    assert rows[slug, "SQLite", "5.2"][1] == (
        f"preloaded ({sqlite.preload['forked']} forked, {sqlite.preload['real']} real processes)")
    # The matrix: Django 4.2's row is its own record's.
    older = records_module.load(slug, "sqlite", mine, "4.2")
    assert older is not None and rows[slug, "SQLite", "4.2"][3] == f"{older.duration:.1f} s"
    assert rows[slug, "SQLite", "4.2"][5].startswith("django 4.2."), rows[slug, "SQLite", "4.2"]
    assert rows[slug, "PostgreSQL", "5.2"] == [
        "✅ passed", "real processes", rows[slug, "PostgreSQL", "5.2"][2], "321.5 s", "2026-01-02T03:04:05+00:00",
        "django 5.2.99, finflo 2.0.99, postgresql PostgreSQL 15.99 (a test's record)",
    ], f"the PostgreSQL row does not show the PostgreSQL record: {rows[slug, 'PostgreSQL', '5.2']}"
    assert rows[slug, "PostgreSQL", "4.2"][0] == "⚠️ no record", rows[slug, "PostgreSQL", "4.2"]
    assert rows[slug, "MariaDB", "5.2"][0] == "❌ failed: MariaDB's own record failed", (
        f"the MariaDB row does not show the MariaDB record: {rows[slug, 'MariaDB', '5.2']}")
    assert rows[slug, "MariaDB", "5.2"][5] == "django 5.2.98, finflo 2.0.98, mariadb 10.11.98-MariaDB"
    # No record on this machine: a build without RUNBOOK_REQUIRE_RECORDS says where it is validated.
    assert rows["circular-dependency", "PostgreSQL", "4.2"][0] == "validated in CI, not on this machine"
    assert len(rows) == 3 * 2 * len(list(RUNBOOKS.glob("*.ipynb")))
    # The reference marks an engine where a command's line ran according to that engine's record: the
    # PostgreSQL record passed; the MariaDB one failed, so it proves nothing.
    reference = html.unescape(re.sub(r"<[^>]+>", "", (built.site / "reference" / "commands" / "index.html").read_text()))
    assert "PostgreSQL ✅" in reference and "MariaDB ✅" not in reference
    # The page's status line says, per engine, which mode produced the outputs it shows.
    page = html.unescape(re.sub(r"<[^>]+>", "", (built.site / "how-to" / slug / "index.html").read_text()))
    assert re.search(r"SQLite [\d.]+: Django 4\.2 passed on [\d-]+ [\d:]+ UTC with preloaded commands; "
                     r"Django 5\.2 passed on [\d-]+ [\d:]+ UTC with preloaded commands", page), page[:3000]
    assert re.search(r"PostgreSQL 15\.99 \(a test's record\): Django 4\.2: no record of runbook .*; "
                     r"Django 5\.2 passed on 2026-01-02 03:04 UTC with every command a real process", page), page[:3000]


def test_the_performance_page_shows_the_committed_benchmark_results(site):
    """benchmarks/last-results.json, as committed: every method's time and ratio to the floor in the
    table, and the chart drawn at build time with a text alternative naming the same ratios."""
    published = json.loads((REPO / "benchmarks" / "last-results.json").read_text())
    page = (site / "explanation" / "performance" / "index.html").read_text()
    assert "No benchmark results yet" not in page
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    floor = published["methods"]["floor"]["median"]
    desc = html.unescape(re.search(r'<desc id="benchmark-chart-desc">(.*?)</desc>', page, re.S)[1])
    for name, method in published["methods"].items():
        assert f" {method['label']} " in text and f" {method['median']:.1f} s " in text, f"{name} is not in the table"
        if name not in ("validate_warm", "prose_rebuild"):
            assert f"{method['label']}: {method['median'] / floor:.2f}×" in desc, f"{name}'s ratio is not in the chart"
    svg = re.search(r'<svg [^>]*"benchmark-chart-title[^>]*>', page)[0]  # not the theme's icons
    assert 'role="img"' in svg and 'aria-labelledby="benchmark-chart-title benchmark-chart-desc"' in svg
    assert '<title id="benchmark-chart-title">Time of each method as a multiple of the floor</title>' in page
    assert f"Measured {published['when'][:10]} " in text


def test_reference_page_comes_from_django(site):
    reference = (site / "reference" / "commands" / "index.html").read_text()
    assert 'id="migrate"' in reference and 'id="sqlmigrate"' in reference
    # Django's help for `sqlmigrate --backwards`, listed whether or not a page uses it.
    assert "Creates SQL to unapply the migration, rather than to apply it" in reference


def test_expected_failure_shows_its_last_line_in_the_title(site):
    page = (site / "explanation" / "circular-dependency" / "index.html").read_text()
    # Django lists the cycle's nodes in no fixed order.
    assert re.search(r"Output: fails as expected \(exit 1\): <code>[^<]*CircularDependencyError: "
                     r"(?=[^<]*accounts\.0001_initial)(?=[^<]*transaction\.0001_initial)[^<]*</code>", page)


# -- pages the build must refuse -----------------------------------------------------------------

@pytest.mark.parametrize("typed", [
    "python manage.py reset_db --noinput",  # a subcommand no runbook runs
    "python manage.py migrate finflo zero",  # runbooks run `python manage.py migrate`, never with these arguments
])
def test_a_command_no_runbook_runs_fails_the_build(docs_copy, records, tmp_path, typed):
    from runbook import notebooks

    executed = {c.strip() for rb in notebooks.all_runbooks() for cell in rb.cells for c in cell.commands}
    assert typed not in executed
    if "migrate" in typed:
        assert any(c.split()[:3] == typed.split()[:3] for c in executed), "no runbook runs this subcommand any more"
    page = docs_copy / "how-to" / "circular-dependency.md"
    page.write_text(page.read_text() + f"\n```console\n$ {typed}\n```\n")
    result = build(tmp_path / "site", records, docs_copy)
    assert result.returncode != 0, f"the build accepted the hand-typed `$ {typed}`"
    # Refused in the page's source (src/runbook/pagecheck.py), before hooks/provenance.py sees the HTML.
    assert "docs/how-to/circular-dependency.md:\n  line " in result.log
    assert "a typed ```console block" in result.log


def test_an_unknown_cell_fails_the_build(docs_copy, records, tmp_path):
    page = docs_copy / "how-to" / "circular-dependency.md"
    page.write_text(page.read_text().replace('"show-stub"', '"makemigrations-acounts"', 1))
    result = build(tmp_path / "site", records, docs_copy)
    assert result.returncode != 0
    assert "docs/how-to/circular-dependency.md:\n  line " in result.log
    assert ": runbook 'circular-dependency' has no cell 'makemigrations-acounts'" in result.log


def test_an_unknown_runbook_fails_the_build(docs_copy, records, tmp_path):
    page = docs_copy / "how-to" / "circular-dependency.md"
    page.write_text(page.read_text() + '\n{{ step("circular-dependencies", "migrate") }}\n')
    result = build(tmp_path / "site", records, docs_copy)
    assert result.returncode != 0
    assert "docs/how-to/circular-dependency.md: unknown runbook 'circular-dependencies'" in result.log


def test_a_page_without_a_runbook_fails_the_build(docs_copy, records, tmp_path):
    (docs_copy / "how-to" / "squash-migrations.md").write_text("# How to squash migrations\n")
    result = build(tmp_path / "site", records, docs_copy)
    assert result.returncode != 0
    assert "docs/how-to/squash-migrations.md has no runbook runbooks/squash-migrations.ipynb" in result.log


def test_an_excerpt_that_is_not_in_the_file_fails_the_build(docs_copy, records, tmp_path):
    page = docs_copy / "how-to" / "circular-dependency.md"
    page.write_text(page.read_text() + '\n{{ file_excerpt("accounts/models.py", start="class Nothing", end="x") }}\n')
    result = build(tmp_path / "site", records, docs_copy)
    assert result.returncode != 0
    assert "docs/how-to/circular-dependency.md: no line of sampleproject/accounts/models.py matches start='class Nothing'" in result.log


# -- SQLite only: the README's main job -----------------------------------------------------------

def test_sqlite_records_alone_give_complete_pages(site):
    """The session's records are SQLite's only: no page says "No current output", the home page's
    error index lists the errors reproduced on SQLite, and engine-specific steps say this build has no output of theirs."""
    for page in site.rglob("*.html"):
        assert "No current output" not in page.read_text(), page
    home = (site / "index.html").read_text()
    assert re.search(r'<th scope="row"><code>django\.db\.migrations\.exceptions\.CircularDependencyError: ', home)
    assert "<code>CommandError: Unknown model: accounts.users</code>" in home
    assert "This build has no record of PostgreSQL and MariaDB: the errors the pages show for them are not listed" in home
    rollback = (site / "how-to" / "rollback-migrations" / "index.html").read_text()
    # No claim without a record of this build (review §0.1): the other engines are named as missing.
    assert "MariaDB: no record in this build" in rollback
    assert "Validated on SQLite only (this build)" in rollback and "in CI" not in rollback
    what_goes_wrong = (site / "explanation" / "rollback-migrations" / "index.html").read_text()
    assert "No MariaDB output in this build" in what_goes_wrong


def test_an_output_that_differs_between_django_versions_gets_a_tab_per_version(site):
    """makemigrations lists operations with "-" on Django 4.2 and "+" on 5.2: the page shows both,
    each in its version's tab; an output both versions printed alike is shown once, without tabs; a
    step only one version needs is shown once, and the page names its version."""
    page = (site / "how-to" / "circular-dependency" / "index.html").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    links = re.search(r"accounts/migrations/0003_links_to_finflo\.py\s+- Create proxy model PartyAction"
                      r".*accounts/migrations/0003_links_to_finflo\.py\s+\+ Create proxy model PartyAction", text, re.S)
    assert links, "the makemigrations output of each version"
    labels = re.findall(r'<label for="__tabbed_\d+_\d+">(Django [\d.]+)</label>', page)
    assert labels.count("Django 4.2") == labels.count("Django 5.2") >= 1, labels
    assert text.count("accounts' first migration: nothing of finflo") == 2  # the command once, its output once
    assert "With Django 4.2, makemigrations also leaves" in text
    assert text.count("Edited accounts/migrations/0001_initial.py") == 3  # three edits, each shown once


def test_every_page_names_the_django_versions_it_ran_with(site):
    from runbook import django_versions

    for slug in (p.stem for p in RUNBOOKS.glob("*.ipynb")):
        page = html.unescape((site / "how-to" / slug / "index.html").read_text())
        ran = re.search(r"ran with Django (4\.2\.\d+) and (5\.2\.\d+) and finflo", page)
        assert ran, slug
        assert [django_versions.series(v) for v in ran.groups()] == list(django_versions.VERSIONS)
        assert re.search(r"Django 4\.2 passed on [\d-]+ [\d:]+ UTC with preloaded commands; Django 5\.2 passed on", page), slug


def test_sqlite_records_alone_fail_the_build_in_ci(records, tmp_path):
    result = build(tmp_path / "site", records, RUNBOOK_REQUIRE_RECORDS="1")
    assert result.returncode != 0
    assert "no record of runbook" in result.log and "on postgresql" in result.log, result.log


# -- missing records -----------------------------------------------------------------------------

def test_missing_records_are_a_warning_on_the_page(tmp_path):
    result = build(tmp_path / "site", tmp_path / "no-records")
    assert result.returncode == 0, result.log
    page = (tmp_path / "site" / "how-to" / "circular-dependency" / "index.html").read_text()
    assert "No current output" in page and "no record of runbook 'circular-dependency' on sqlite" in page
    assert "Not validated" in page


def test_missing_records_fail_the_build_in_ci(tmp_path):
    result = build(tmp_path / "site", tmp_path / "no-records", RUNBOOK_REQUIRE_RECORDS="1")
    assert result.returncode != 0
    assert "no record of runbook" in result.log and "RUNBOOK_REQUIRE_RECORDS=1" in result.log
