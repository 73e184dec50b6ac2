"""The preload server's choices, command by command, against real processes (SQLite, no kernel).

Each command runs as runbook.shell runs a `!` line (bash, no standard input, stderr merged), once
through the preload server and once as a real process, on the same project copy and database;
output and exit code must be equal, and the server's log says whether it forked or sent the
command to a real process.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from runbook import executor, preload
from runbook.executor import copy_sample_project


@pytest.fixture
def served(tmp_path):
    project = copy_sample_project(tmp_path / "project")
    env = {**executor.command_environment(), "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}
    with preload.serving(tmp_path, executor.command_environment()) as socket_path:
        yield Served(project, env, socket_path, tmp_path)


class Served:
    def __init__(self, project: Path, env: dict[str, str], socket_path: str, folder: Path):
        self.project, self.env, self.socket_path, self.folder = project, env, socket_path, folder

    def run(self, command: str, preloaded: bool, stdin=subprocess.DEVNULL, **env) -> tuple[int, str]:
        line = preload.bash_prefix(self.socket_path) + command if preloaded else command
        proc = subprocess.run(line, shell=True, executable="/bin/bash", cwd=self.project, env={**self.env, **env},
                              stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
        return proc.returncode, proc.stdout

    def both(self, command: str, **kwargs) -> tuple[int, str]:
        real = self.run(command, preloaded=False, **kwargs)
        assert self.run(command, preloaded=True, **kwargs) == real
        return real

    def tally(self) -> dict:
        return preload.tally(self.folder)


def test_manage_py_commands_are_forked_and_print_and_exit_as_real_ones(served):
    assert served.run("python manage.py migrate -v 0", preloaded=False)[0] == 0
    assert served.both("python manage.py showmigrations accounts") == (
        0, "accounts\n [X] 0001_initial\n [X] 0002_links_to_finflo_and_transaction\n")
    code, output = served.both("python manage.py migrate accounts 0002_auto")
    assert (code, output) == (1, "CommandError: Cannot find a migration matching '0002_auto' from app 'accounts'.\n")
    code, output = served.both("python manage.py shell -c '1/0'")
    assert code == 1 and "\nTraceback (most recent call last):\n" in output and "preload" not in output
    assert output.endswith("ZeroDivisionError: division by zero\n")
    assert served.both("THROWAWAY=x python manage.py shell -v 0 -c \"import os, sys; print(os.environ['THROWAWAY'], sys.argv)\"") == (
        0, "x ['manage.py', 'shell', '-v', '0', '-c', \"import os, sys; print(os.environ['THROWAWAY'], sys.argv)\"]\n")
    assert served.tally() == {"forked": 4, "real": 0, "reasons": {}}


def test_a_model_edited_between_commands_is_read_from_disk(served):
    served.run("python manage.py migrate -v 0", preloaded=False)
    models = served.project / "transaction" / "models.py"
    models.write_text(models.read_text().replace(
        "    paid_on = models.DateField()\n",
        "    paid_on = models.DateField()\n    note = models.CharField(max_length=100, blank=True, default='')\n"))
    code, output = served.both("python manage.py makemigrations transaction --dry-run")
    assert code == 0 and "+ Add field note to payment" in output
    assert served.tally() == {"forked": 1, "real": 0, "reasons": {}}


def test_commands_it_cannot_serve_faithfully_run_as_real_processes(served, tmp_path):
    served.run("python manage.py migrate -v 0", preloaded=False)
    dump = tmp_path / "input.txt"
    dump.write_text("print('from standard input')\n")
    with dump.open() as stdin:  # the command reads its standard input
        assert served.run("python manage.py shell", preloaded=True, stdin=stdin)[1].endswith("from standard input\n")
    assert served.tally() == {"forked": 0, "real": 1, "reasons": {"standard input is not /dev/null": 1}}
    # An interpreter setting read at start-up, which the preloaded process did not start with.
    assert served.both("python manage.py shell -v 0 -c 'import sys; print(sys.flags.optimize)'", PYTHONOPTIMIZE="1") == (0, "1\n")
    assert served.tally() == {"forked": 0, "real": 2, "reasons": {"standard input is not /dev/null": 1, "the environment differs in a variable read at start-up": 1}}
    # Not `python manage.py`: bash runs the real python, the server never hears of it.
    assert served.both("python -c 'print(2)'") == (0, "2\n")
    assert served.tally() == {"forked": 0, "real": 2, "reasons": {"standard input is not /dev/null": 1, "the environment differs in a variable read at start-up": 1}}


def test_without_a_server_the_command_runs_as_a_real_process(served):
    line = preload.bash_prefix(str(served.folder / "no-such.sock")) + "python manage.py showmigrations accounts"
    proc = subprocess.run(line, shell=True, executable="/bin/bash", cwd=served.project, env=served.env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.startswith("accounts\n")
