"""The commands reference names each program a runbook runs, and describes every one of them."""
from __future__ import annotations

import pytest

from runbook import notebooks
from runbook.pages.commands_reference import SHELL_PROGRAMS
from runbook.shellwords import programs as _programs


@pytest.mark.parametrize("command, programs", [
    ("python manage.py migrate --plan", [("manage.py migrate", ["--plan"])]),
    ("DATABASE_URL={x} python manage.py migrate", [("manage.py migrate", [])]),
    ('rm -v "$(python manage.py shell -c "print(1); print(2)")"',
     [("manage.py shell", ["-c", "print(1); print(2)"]), ("rm", ["-v", "SUBSTITUTED"])]),
    ('DB="$(python manage.py shell -c \'print(1)\')" && echo "$DB"',
     [("manage.py shell", ["-c", "print(1)"]), ("echo", ["$DB"])]),
    ("git status --short && test -z \"$(git status --porcelain)\"",
     [("git status", ["--porcelain"]), ("git status", ["--short"]), ("test", ["-z", "SUBSTITUTED"])]),
])
def test_programs_of_a_shell_line(command, programs):
    assert _programs(command) == programs


def test_every_program_a_runbook_runs_is_described():
    undescribed = set()
    for runbook in notebooks.all_runbooks():
        for cell in runbook.cells:
            for command in cell.commands_with(runbook.defaults):
                for key, _ in _programs(command):
                    if not key.startswith(("manage.py ", "python -m runbook.")) and key not in SHELL_PROGRAMS:
                        undescribed.add(f"{key} ({runbook.slug} › {cell.id})")
    assert not undescribed, "add to SHELL_PROGRAMS: " + ", ".join(sorted(undescribed))
