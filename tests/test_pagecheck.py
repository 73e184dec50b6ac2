"""src/runbook/pagecheck.py on the real pages and on small spoiled sources (no build, no records)."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from runbook import notebooks, pagecheck

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
MACROS = ("command", "output", "step", "engine_outputs", "edit", "file_excerpt", "status", "operator_box",
          "commands_reference", "status_table", "error_index", "benchmark_results")
CIRCULAR = DOCS / "how-to" / "circular-dependency.md"


def problems(text: str, slug: str | None = "circular-dependency") -> list[str]:
    return pagecheck.problems_of(text, notebooks.find(slug) if slug else None, MACROS)


def test_the_macros_module_has_the_same_macros():
    spec = importlib.util.spec_from_file_location("site_macros", REPO / "hooks" / "macros.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.MACROS == MACROS


@pytest.mark.parametrize("page", sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")))
def test_every_page_passes(page):
    path = DOCS / page
    slug = path.stem if page.startswith("how-to/") else None
    assert problems(path.read_text(), slug) == []


def test_a_dropped_step_names_the_cell_and_its_neighbours():
    text = CIRCULAR.read_text().replace('{{ step("circular-dependency", "node-not-found") }}', "")
    [problem] = problems(text)
    assert problem.startswith("does not show cell 'node-not-found' (demo) of runbook 'circular-dependency', "
                              "which runs between 'drop-migration-modules' (page line ")
    assert "and 'restore-settings' (page line " in problem and "runbook.hidden" in problem


def test_swapped_steps_name_both_cells():
    a, b = '{{ step("circular-dependency", "plan") }}', '{{ command("circular-dependency", "migrate") }}'
    text = CIRCULAR.read_text().replace(a, "@A@").replace(b, a).replace("@A@", b)
    [problem] = problems(text)
    assert problem.startswith("shows cell 'plan' (line ")
    assert "after 'migrate' (line " in problem and "runs it before, between 'show-second-dependencies' and 'migrate'" in problem


def test_a_hidden_cell_may_be_left_off_but_not_shown():
    box = '{{ operator_box("circular-dependency") }}'
    text = CIRCULAR.read_text().replace(box, box + '\n\n{{ step("circular-dependency", "setup") }}')
    [problem] = problems(text)
    assert problem.startswith("shows cell 'setup' (line ") and "marks hidden (\"runner plumbing:" in problem


def test_engine_siblings_are_one_step_in_any_order_but_each_is_shown():
    page = (DOCS / "how-to" / "rollback-migrations.md").read_text()
    sqlite = '{{ output("rollback-migrations", "migrate-fails-sqlite", collapsed=False) }}'
    mariadb = '{{ output("rollback-migrations", "migrate-fails-mariadb", engine="mariadb", collapsed=False) }}'
    assert problems(page.replace(sqlite, "@S@").replace(mariadb, sqlite).replace("@S@", mariadb), "rollback-migrations") == []
    [problem] = problems(page.replace(mariadb, ""), "rollback-migrations")
    assert problem.startswith("does not show cell 'migrate-fails-mariadb' (demo)")


def test_a_step_in_a_comment_is_not_shown():
    step = '{{ step("circular-dependency", "node-not-found") }}'
    for hidden in (f"<!-- {step} -->", f"{{# {step} #}}"):
        [problem] = problems(CIRCULAR.read_text().replace(step, hidden))
        assert problem.startswith("does not show cell 'node-not-found'")


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
