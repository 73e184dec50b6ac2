"""Every default `runbook COMMAND --help` states is the one the code uses.

Each "(default: …)" of an option's help is compared with argparse's default when argparse has one,
and otherwise with what the code falls back to (DESCRIBED: the text, and a check of the code). A
new "(default: …)" that is in neither fails here until it is declared. Behaviour behind the
constants (the audit folder under $HOME, the backup in it) is run in tests/test_restore.py.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import pytest

from runbook import cli, notebooks, paths
from runbook.doctor import command as doctor_command

DEFAULT = re.compile(r"\(default: ([^()]*(?:\([^()]*\)[^()]*)*)\)")
HOME = str(Path.home())


def _tilde(path: Path) -> str:
    return str(path).replace(HOME, "~", 1)


# Options whose help names what the code does rather than argparse's default (None, or a number
# computed on this machine).
DESCRIBED = {
    # Behaviour, not a constant: test_the_sample_project_is_the_default_project below; the scratch
    # database of every sample run is tests/test_runner.py's.
    ("run", "--project"): ("a fresh copy of the sample project", lambda: True),
    ("run", "--database-url"): ("a fresh scratch database on --engine", lambda: True),
    ("run", "--backup-dir"): (f"{_tilde(paths.AUDIT_ROOT)}", lambda: paths.AUDIT_ROOT == Path.home() / ".runbook" / "runs"),
    ("run", "--output"): (f"{_tilde(paths.EXECUTED)}/<runbook>-<engine>.ipynb; with --project none",
                          lambda: cli.EXECUTED == paths.EXECUTED),
    # A runbook without alternatives runs its procedure with no --procedure (and refuses one: test_bad_input.py).
    ("run", "--procedure"): ("the runbook's only procedure", lambda: _only_procedure()),
    ("plan", "--procedure"): ("the runbook's only procedure", lambda: _only_procedure()),
    # tests/test_doctor.py::test_a_project_without_finflo_gets_the_generic_checks runs it without --database-url.
    ("doctor", "--database-url"): ("the one the project's settings name, as they are", lambda: True),
    ("doctor", "--python"): ("the project's .venv, venv or env if it has one, else the Python runbook runs with",
                             lambda: doctor_command._PROJECT_VENVS == (".venv", "venv", "env")
                             and doctor_command._python(None, Path("/nonexistent")) == sys.executable),
    ("validate", "NAME"): ("all", lambda: True),
    ("validate", "--engine"): ("sqlite", lambda: cli.DEFAULT_ENGINES == ["sqlite"]),
    ("validate", "--django"): ("every one, 4.2 5.2",
                               lambda: cli.selected_djangos(cli._parser().parse_args(["validate"])) == ("4.2", "5.2")),
    ("validate", "--jobs"): ("the number of cores", lambda: cli._parser().parse_args(["validate"]).jobs == os.cpu_count()),
    ("validate", "--no-cache"): ("reuse them", lambda: cli._parser().parse_args(["validate"]).no_cache is False),
    ("validate", "--no-preload"): ("--preload", lambda: cli._parser().parse_args(["validate"]).preload is True),
}


def _only_procedure() -> bool:
    """Without --procedure a runbook that has no alternatives runs every procedure and check cell."""
    runbook = notebooks.find("reset-database")
    return not runbook.procedures and runbook.with_procedure(None).operator_cells == [
        c for c in runbook.cells if c.role in ("procedure", "check") or c.is_parameters]


def _documented() -> list[tuple[str, str, argparse.Action, str]]:
    """(command, option, action, documented default) for every "(default: …)" in the help."""
    parser = cli._parser()
    found = []
    for command, sub in parser._subparsers._group_actions[0].choices.items():
        formatter = sub._get_formatter()
        for action in sub._actions:
            if not action.help or action.help == argparse.SUPPRESS:
                continue
            option = action.option_strings[-1] if action.option_strings else action.metavar or action.dest
            for text in DEFAULT.findall(formatter._expand_help(action)):
                found.append((command, option, action, text))
    return found


def test_the_help_documents_some_defaults():
    assert len(_documented()) >= 10


@pytest.mark.parametrize("command, option, action, text", _documented(), ids=lambda v: v if isinstance(v, str) else "")
def test_a_documented_default_is_the_codes(command, option, action, text):
    if (command, option) not in DESCRIBED and action.default not in (None, [], False):
        shown = f"{action.default:g}" if isinstance(action.default, float) else str(action.default)
        assert text == shown, f"`runbook {command} --help`: {option} says (default: {text}), the code's is {shown}"
        return
    assert (command, option) in DESCRIBED, (
        f"`runbook {command} --help`: {option} says (default: {text}) with no argparse default: "
        "declare what the code does in DESCRIBED")
    documented, code_agrees = DESCRIBED[(command, option)]
    assert text == documented
    assert code_agrees(), f"`runbook {command} --help`: {option} says (default: {text}), the code does otherwise"


def test_no_help_names_the_backup_folder_the_runner_never_used():
    everything = cli._parser().format_help() + "".join(
        sub.format_help() for sub in cli._parser()._subparsers._group_actions[0].choices.values())
    assert "~/.runbook/backups" not in everything


def test_the_sample_project_is_the_default_project(tmp_path):
    """`run` without --project runs on a fresh copy of the sample project (the executor's own fallback)."""
    from runbook.executor import _prepare_project

    copy = _prepare_project(None, tmp_path)
    assert copy == tmp_path / "project"
    assert (copy / "manage.py").read_bytes() == (paths.SAMPLE_PROJECT / "manage.py").read_bytes()
    assert notebooks.all_runbooks()  # the runbooks the copy is for
