"""The programs a shell line runs, as a reader's shell would see them.

``python manage.py migrate && test -z "$(git status --porcelain)"`` runs ``manage.py migrate``,
``git status`` and ``test``. Used for the commands reference (which describes each program) and for
operator mode's preconditions (each program must be installed).
"""
from __future__ import annotations

import re
import shlex

# Words the shell reads itself: `if test -f x; then rm x; fi` runs `test` and `rm`, no program `if`.
SHELL_KEYWORDS = {"if", "then", "else", "elif", "fi", "for", "in", "do", "done", "while", "until", "case",
                  "esac", "{", "}", "!", "time"}


def programs(command: str) -> list[tuple[str, list[str]]]:
    """The simple commands of a shell line, each as (reference key, its words); the commands inside
    ``$( … )`` count too, and ``NAME=value`` words before a program are its environment, not a program."""
    command, inner = command_substitutions(command)
    result = [program for text in inner for program in programs(text)]
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    simple, current = [], []
    for token in lexer:
        if token in ("&&", "||", ";", "|"):
            simple.append(current)
            current = []
        else:
            current.append(token)
    simple.append(current)
    for words in simple:
        if words[:1] in (["for"], ["case"]):
            continue  # `for NAME in WORDS`, `case WORD in`: words, not a program
        while words and (re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]) or words[0] in SHELL_KEYWORDS):
            words = words[1:]
        if not words:
            continue
        if words[:2] == ["python", "manage.py"] and len(words) > 2:
            result.append((f"manage.py {words[2]}", words[3:]))
        elif words[:2] == ["python", "-m"] and len(words) > 2:
            result.append((f"python -m {words[2]}", words[3:]))
        elif words[0] == "git" and len(words) > 1:
            result.append((f"git {words[1]}", words[2:]))
        else:
            result.append((words[0], words[1:]))
    return result


def command_substitutions(command: str) -> tuple[str, list[str]]:
    """``command`` with each outermost ``$( … )`` replaced by a placeholder word, and their contents."""
    outer, inner, depth, start, quote = [], [], 0, 0, None
    i = 0
    while i < len(command):
        char = command[i]
        if depth == 0 and command.startswith("$(", i):
            depth, start = 1, i + 2
            outer.append("SUBSTITUTED")
            i += 2
            continue
        if depth:
            if quote:
                quote = None if char == quote else quote
            elif char in "'\"":
                quote = char
            elif char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
                if depth == 0:
                    inner.append(command[start:i])
        else:
            outer.append(char)
        i += 1
    return "".join(outer), inner
