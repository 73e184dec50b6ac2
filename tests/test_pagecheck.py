"""src/runbook/pagecheck.py on the real pages and on small spoiled sources (no build, no records)."""
from __future__ import annotations

import dataclasses
import importlib.util
import re
from types import SimpleNamespace
from pathlib import Path

import pytest

from runbook import notebooks, pagecheck

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
MACROS = ("command", "output", "step", "engine_outputs", "edit", "file_excerpt", "status", "operator_box",
          "commands_reference", "status_table", "error_index", "benchmark_results", "runbook_commands",
          "doctor_findings")
CIRCULAR = DOCS / "how-to" / "circular-dependency.md"
EXPLANATION = DOCS / "explanation" / "circular-dependency.md"  # the circular runbook's demonstrations


def problems(text: str, slug: str | None = "circular-dependency", explanation: bool = False) -> list[str]:
    """The page's problems, its runbook's cells shown between it and its companion (how-to/explanation)."""
    companion = DOCS / ("how-to" if explanation else "explanation") / f"{slug}.md"
    return pagecheck.problems_of(text, notebooks.find(slug) if slug else None, MACROS,
                                 companion.read_text() if slug and companion.is_file() else None,
                                 procedure_page=not explanation)


def test_the_macros_module_has_the_same_macros():
    spec = importlib.util.spec_from_file_location("site_macros", REPO / "hooks" / "macros.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.MACROS == MACROS


@pytest.mark.parametrize("page", sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")))
def test_every_page_passes(page):
    """As the build checks it (hooks/macros.py): a how-to with its explanation page, and back."""
    path = DOCS / page
    slug = path.stem if page.startswith("how-to/") else None
    if page.startswith("explanation/") and (REPO / "runbooks" / f"{path.stem}.ipynb").is_file():
        slug = path.stem  # an explanation page of a runbook: its demonstrations
    # A runbook's cells are shown by its how-to and its explanation page between them (as the build checks).
    other = DOCS / ("explanation" if page.startswith("how-to/") else "how-to") / path.name
    companion = other.read_text() if slug and other.is_file() else None
    assert pagecheck.problems_of(path.read_text(), notebooks.find(slug) if slug else None, MACROS, companion,
                                 procedure_page=page.startswith("how-to/")) == []


def test_a_dropped_step_names_the_cell_and_its_neighbours():
    text = CIRCULAR.read_text().replace('{{ command("circular-dependency", "remove-regenerated") }}', "")
    [problem] = problems(text)
    assert problem.startswith("does not show cell 'remove-regenerated' (procedure) of runbook 'circular-dependency', "
                              "which runs between 'list-regenerated' (page line ")
    assert "and 'makemigrations-both' (page line " in problem and "runbook.hidden" in problem


def test_swapped_steps_name_both_cells():
    a, b = '{{ step("circular-dependency", "fake-compared") }}', '{{ step("circular-dependency", "migrate") }}'
    text = CIRCULAR.read_text().replace(a, "@A@").replace(b, a).replace("@A@", b)
    [problem] = problems(text)
    assert problem.startswith("shows cell 'fake-compared' (line ")
    assert "after 'migrate' (line " in problem and "runs it before, between 'schema-mariadb' and 'migrate'" in problem


def test_a_hidden_cell_may_be_left_off_but_not_shown():
    box = '{{ status("circular-dependency") }}'
    text = CIRCULAR.read_text().replace(box, box + '\n\n{{ step("circular-dependency", "setup") }}')
    [problem] = problems(text)
    assert problem.startswith("shows cell 'setup' (line ") and "marks hidden (\"runner plumbing:" in problem


def test_engine_siblings_are_one_step_in_any_order_but_each_is_shown():
    page = (DOCS / "explanation" / "rollback-migrations.md").read_text()
    sqlite = '{{ output("rollback-migrations", "migrate-fails-sqlite") }}'
    mariadb = '{{ output("rollback-migrations", "migrate-fails-mariadb", engine="mariadb") }}'
    swapped = page.replace(sqlite, "@S@").replace(mariadb, sqlite).replace("@S@", mariadb)
    assert problems(swapped, "rollback-migrations", explanation=True) == []
    [problem] = problems(page.replace(mariadb, ""), "rollback-migrations", explanation=True)
    assert problem.startswith("does not show cell 'migrate-fails-mariadb' (demo)")


def test_a_step_in_a_comment_is_not_shown():
    step = '{{ step("circular-dependency", "prune") }}'
    for hidden in (f"<!-- {step} -->", f"{{# {step} #}}"):
        [problem] = problems(CIRCULAR.read_text().replace(step, hidden))
        assert problem.startswith("does not show cell 'prune'")


@pytest.mark.parametrize("typed, found", [
    ("```bash\npython manage.py migrate --fake accounts 0042_never_ran\n```", "a typed ```bash block"),
    ("```sh\nrm -rf accounts/migrations\n```", "a typed ```sh block"),
    ("~~~console\n$ python manage.py flush\n~~~", "a typed ```console block"),
    ('```{ .zsh title="x" }\nls\n```', "a typed ```zsh block"),
    ("```text\n$ python manage.py flush\n```", "a typed prompt line `$ python manage.py flush`"),
    ("1. Run:\n\n    $ python manage.py flush\n", "a typed prompt line `$ python manage.py flush`"),
    ("> $ python manage.py flush", "a typed prompt line `$ python manage.py flush`"),
    ('<pre><code class="language-bash">python manage.py flush</code></pre>', "raw HTML code in a shell language"),
    ('{{ "```bash\\nrm -rf /\\n```" }}', "is not a call of a macro"),
    ('{% set x = 1 %}', "a Jinja statement"),
    ('{{ step("circular-dependency", "plan") | replace("plan", "x") }}', "is not a call of a macro"),
])
def test_typed_shell_is_refused(typed, found):
    found_in = problems(f"# Page\n\nText.\n\n{typed}\n", slug=None)
    assert len(found_in) == 1 and found in found_in[0], found_in
    assert re.match(r"line [5-7]: ", found_in[0]), found_in


def test_the_opt_out_class_lets_a_typed_block_through():
    text = "```{ .bash .not-a-runbook-step }\n.venv/bin/python benchmarks/run.py\n$ echo shown as typed\n```\n"
    assert problems(text, slug=None) == []


def test_check_page_names_the_page():
    with pytest.raises(pagecheck.PageError, match=r"^docs/how-to/circular-dependency\.md:\n  line 3: a typed"):
        pagecheck.check_page("how-to/circular-dependency.md", "x\n\n$ ls\n", None, MACROS)


# -- demonstrations fenced off from the reader's data ----------------------------------------------

REMOVE_SETTING_BLOCK = '''??? danger "Do not run this on your project: the project without finflo_migrations"'''


def test_the_explanation_page_fences_the_demo_that_edits_files():
    text = EXPLANATION.read_text()
    assert REMOVE_SETTING_BLOCK in text
    unfenced = text.replace(REMOVE_SETTING_BLOCK, "!!! note \"The project without finflo_migrations\"")
    assert any("demo cell 'never-committed-settings' edits the sample's files" in p for p in pagecheck.problems_of(
        unfenced, notebooks.find("circular-dependency"), MACROS, CIRCULAR.read_text(), procedure_page=False))


def test_a_demo_that_loses_its_sample_only_settings_is_refused():
    text = EXPLANATION.read_text()
    runbook = notebooks.find("circular-dependency")
    cell = runbook.cell("migrate-fails-without-fake")
    spoiled = cell.source.replace(" --settings=config.sample_only", "")
    [problem] = pagecheck.fencing_problems(
        pagecheck.macro_calls(text, MACROS)[0],
        _with_source(runbook, "migrate-fails-without-fake", spoiled), text)
    assert re.match(r"line \d+: demo cell 'migrate-fails-without-fake' would run on a reader's own project or database "
                    r"when copied: give each manage.py command --settings=config.sample_only", problem)


def test_a_procedure_step_inside_a_do_not_run_block_is_refused():
    step = '{{ step("circular-dependency", "makemigrations-links") }}'
    text = CIRCULAR.read_text().replace(f"    {step}", f'    ??? danger "Do not run this"\n\n        {step}')
    [problem] = problems(text)
    assert re.match(r"line \d+: procedure cell 'makemigrations-links' is inside a \"Do not run this\" block", problem)


def _with_source(runbook, cell_id, source):
    """The runbook with one cell's source replaced (its commands re-read from it)."""
    cells = [dataclasses.replace(c, source=source) if c.id == cell_id else c for c in runbook.cells]
    return dataclasses.replace(runbook, cells=cells)


def _cell(*commands: str, edits: bool = False):
    return SimpleNamespace(commands=list(commands), edits_files=edits)


@pytest.mark.parametrize("commands, closed", [
    (["THROWAWAY_DATABASE_URL={old_database_url} python manage.py migrate --settings=config.sample_only"], True),
    (["python manage.py shell --settings=config.sample_only -c \"print(1); print(2)\" > \"$BACKUP_DIR/x.txt\""
      " && diff \"$BACKUP_DIR/a.txt\" \"$BACKUP_DIR/x.txt\""], True),
    (["python manage.py migrate --settings=config.sample_only && python manage.py flush --noinput"], False),
    (["DATABASE_URL={old_database_url} python manage.py migrate"], False),  # Django reads no DATABASE_URL
    (["python manage.py migrate"], False),
    (["test -f config/sample_only.py && rm -r accounts/migrations && git status --short"], True),
    (["test -f config/sample_only.py || rm -r accounts/migrations"], False),
    (["rm -r accounts/migrations && test -f config/sample_only.py"], False),
    (["python manage.py showmigrations", "rm -r accounts/migrations"], False),
])
def test_a_demo_fails_closed_only_if_every_command_stops_outside_the_sample(commands, closed):
    assert pagecheck.fails_closed(_cell(*commands)) is closed


@pytest.mark.parametrize("command, reads", [
    ("python manage.py showmigrations finflo", True),
    ("python manage.py migrate accounts 0001 --plan", True),
    ("python manage.py migrate accounts 0001", False),
    ("python manage.py makemigrations transaction --empty --dry-run", True),
    ("python manage.py makemigrations transaction --empty", False),
    ("python manage.py dumpdata accounts > \"$BACKUP_DIR/accounts.json\"", True),
    ("python manage.py dumpdata accounts > ../accounts.json", False),
    ("python manage.py shell -c \"from accounts.models import User; print(User.objects.count())\"", True),
    ("python manage.py shell -c \"from accounts.models import User; User.objects.all().delete()\"", False),
    ("python manage.py shell -c \"from django.db import connection; connection.cursor().execute('DROP TABLE x')\"", False),
    ("git status --short", True),
    ("git restore .", False),
    ("grep -c finflo accounts/migrations/0001_initial.py || echo none", True),
    ("python manage.py showmigrations && rm -r accounts/migrations", False),
])
def test_what_counts_as_only_reading(command, reads):
    assert pagecheck._reads_only(_cell(command)) is reads


# -- a how-to and its explanation page show the runbook's cells between them ------------------------

def test_a_demo_shown_on_the_explanation_page_counts_as_shown():
    step = '{{ step("circular-dependency", "fresh-database") }}'
    assert step in EXPLANATION.read_text() and step not in CIRCULAR.read_text()
    runbook = notebooks.find("circular-dependency")
    assert any("does not show cell 'fresh-database'" in p for p in pagecheck.problems_of(CIRCULAR.read_text(), runbook, MACROS))
    assert pagecheck.problems_of(CIRCULAR.read_text(), runbook, MACROS, companion=EXPLANATION.read_text()) == []


def test_a_procedure_step_on_the_explanation_page_is_refused():
    runbook = notebooks.find("circular-dependency")
    sqlmigrate = '{{ output("circular-dependency", "sqlmigrate") }}'
    text = EXPLANATION.read_text().replace(sqlmigrate, sqlmigrate + '\n\n{{ step("circular-dependency", "migrate") }}')
    [problem] = pagecheck.problems_of(text, runbook, MACROS, companion=CIRCULAR.read_text(), procedure_page=False)
    assert re.match(r"line \d+: shows procedure cell 'migrate': a procedure step belongs on the how-to page", problem)
