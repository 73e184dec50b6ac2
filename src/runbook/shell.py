"""IPython extension for runbooks: ``%load_ext runbook.shell``.

IPython's ``!cmd`` ignores a failing command. Once loaded, ``!cmd`` fills in ``{parameter}``, runs the command with bash in
the current folder, streams its output (stderr merged, as in a terminal), gives it no standard
input (an interactive prompt fails instead of hanging) and raises ``CommandFailed`` on a non-zero
exit. Interrupting the cell (a timeout) kills the command's whole process group.

It also gives cells ``replace_in_file``, the one way a runbook edits a project file, so that a page
can show the edit's before and after text; its path and texts name parameters as ``{name}`` too.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from . import preload, processes
from .notebooks import fill

# Set when the run preloads: taken out of the kernel's environment, so no command sees it.
_preload_socket: str | None = None


class CommandFailed(Exception):
    """A shell command of a runbook cell exited non-zero."""


def load_ipython_extension(ipython) -> None:
    global _preload_socket
    _preload_socket = os.environ.pop(preload.KERNEL_VARIABLE, None)

    def parameters() -> dict[str, object]:
        return {k: v for k, v in ipython.user_ns.items() if isinstance(v, (str, int)) and not k.startswith("_")}

    def system(cmd: str) -> None:
        # `{name}` is the runbook's parameter, filled in exactly as pages and plans show it;
        # `$NAME` and `$(...)` are left to bash (IPython's own expansion would take `$` too).
        command = fill(cmd, parameters())
        code = run_command(command)
        ipython.user_ns["_exit_code"] = code
        if code != 0:
            raise CommandFailed(f"exit status {code}: {command}")

    ipython.system = system
    def replace_in_file_filled(path: str, old: str, new: str) -> None:
        values = parameters()  # the user's app and model names, as the plan showed the edit
        replace_in_file(fill(path, values), fill(old, values), fill(new, values))

    ipython.user_ns["replace_in_file"] = replace_in_file_filled


def run_command(command: str) -> int:
    if _preload_socket:
        command = preload.bash_prefix(_preload_socket) + command
    proc = subprocess.Popen(
        command, shell=True, executable="/bin/bash", stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    # The runner kills the group if the kernel dies before it can (see runbook.processes).
    recorded = processes.record(proc.pid)
    try:
        for line in iter(proc.stdout.readline, b""):
            # No flush per line: the kernel's stream sends what it holds every 0.2 s, so output
            # still arrives live, in a few messages instead of one per line.
            sys.stdout.write(line.decode("utf-8", errors="replace"))
        sys.stdout.flush()
        return proc.wait()
    except BaseException:  # KeyboardInterrupt from a timeout, or the kernel going down
        _kill_group(proc)
        raise
    finally:
        proc.stdout.close()
        processes.forget(recorded)


def _kill_group(proc: subprocess.Popen) -> None:
    for sig, grace in ((signal.SIGTERM, 3), (signal.SIGKILL, 3)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


def replace_in_file(path: str, old: str, new: str) -> None:
    """Replace the one occurrence of ``old`` in ``path`` with ``new``; fail if it is not there once."""
    file = Path(path)
    text = file.read_text()
    count = text.count(old)
    if count != 1:
        raise ValueError(f"{path}: expected the text to replace exactly once, found it {count} times")
    file.write_text(text.replace(old, new))
    print(f"Edited {path}")
