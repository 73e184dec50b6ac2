"""Every command a page shows runs in a reader's own finflo project with what the pages install.

Its programs are `python manage.py` (Django's and the project's commands), standard shell tools, or
git; never this repository's `runbook` package (`python -m runbook.…`), which a reader's project
does not have. Environment assignments (`DATABASE_URL=… python manage.py …`) are allowed.
"""
from __future__ import annotations

import re
import shlex

import pytest

from runbook import notebooks

STANDARD = {"rm", "git", "grep", "cat", "diff", "test", "echo", "cut", "sort", "tr", "env", "ls", "mkdir", "cp", "wc",
            "printf", "touch", "cmp", "sleep", "kill", "fuser", "head", "tail", "seq",
            "break", "wait", "exit"}  # the last three: bash's own builtins
SHELL_KEYWORDS = {"{", "}", "!", "if", "then", "else", "fi", "for", "do", "done"}  # read by the shell itself


def programs(command: str) -> list[str]:
    """The program of each simple command in a shell line (after `&&`, `||`, `;`, `|`, inside `$(…)`)."""
    return [words[0] for words in simple_commands(command)]


def simple_commands(command: str) -> list[list[str]]:
    """Each simple command of a shell line as its words, without leading VAR=value assignments."""
    outer, inner = _substitutions(command)
    found = []
    for line in [outer, *inner]:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()<>")
        lexer.whitespace_split = True
        current = None
        for word in lexer:
            if word and (set(word) <= set(";&|()") or (set(word) <= set("<>()") and "(" in word)):
                current = None  # a separator, or `<(`: a process substitution starts a command
            elif current is None and word == "for":
                current = []  # `for NAME in WORDS`: no program until the `;`
            elif current is None and word in SHELL_KEYWORDS:
                continue
            elif set(word) <= set("<>"):
                current = [] if current is None else current  # a redirection's target is not a program
                current.append(None)
            elif current is None and "=" in word and word.split("=", 1)[0].isidentifier():
                continue
            elif current is None:
                current = [word]
                found.append(current)
            elif current and current[-1] is None:
                current[-1] = "(redirected)"
            else:
                current.append(word)
    return found


def _substitutions(command: str) -> tuple[str, list[str]]:
    """``command`` with each ``$(…)`` replaced by X, and the commands inside them (parentheses balanced)."""
    outer, inner, i = [], [], 0
    while i < len(command):
        if command.startswith("$(", i):
            depth, j = 1, i + 2
            while j < len(command) and depth:
                depth += {"(": 1, ")": -1}.get(command[j], 0)
                j += 1
            inner.append(command[i + 2:j - 1])
            outer.append("X")
            i = j
        else:
            outer.append(command[i])
            i += 1
    return "".join(outer), inner


def shown_commands() -> list[tuple[str, str, str]]:
    return [(rb.slug, cell.id, command) for rb in notebooks.all_runbooks() for cell in rb.cells
            if not getattr(cell, "hidden", None) for command in cell.commands_with(rb.defaults)]


@pytest.mark.parametrize("slug, cell_id, command", shown_commands(), ids=lambda v: str(v)[:40])
def test_each_shown_command_runs_in_a_readers_project(slug, cell_id, command):
    for program, *words in simple_commands(command):
        if program == "python":
            assert words[:1] in (["manage.py"], ["-c"]), (
                f"runbook {slug!r}, cell {cell_id!r}: `{command}` runs python {' '.join(map(str, words[:2]))}, "
                "which a reader's project lacks; use python manage.py")
        else:
            assert program in STANDARD, f"runbook {slug!r}, cell {cell_id!r}: `{command}` runs {program!r}"


def test_the_parser_finds_every_program():
    assert programs('DB="$(python manage.py shell -c x)" && python manage.py dbshell -- -e "y" && echo done') == [
        "python", "echo", "python"]  # the line's own commands, then those inside $(…)
    assert programs("for _ in $(seq 3); do test -f x && break; sleep 1; done") == ["test", "break", "sleep", "seq"]
    assert programs("python -m runbook.verify --counts > f && diff a b") == ["python", "diff"]
    assert programs("test -f x && { sleep 1; } && printf '%s' '' \"a\" > f") == ["test", "sleep", "printf"]


def test_a_runbook_package_command_is_refused():
    with pytest.raises(AssertionError, match="which a reader's project lacks"):
        test_each_shown_command_runs_in_a_readers_project("x", "y", "python -m runbook.verify --counts")
