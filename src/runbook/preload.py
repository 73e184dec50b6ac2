"""Preloading (``runbook validate``, the default): ``python manage.py …`` served by forking a process
that has already imported Django and the other libraries, like Rails' Spring.

Why it can be faithful: the preloaded process imports only libraries, never the project (its folder
is not on its ``sys.path``) and never Django's settings or apps, so no project file, setting, model
or migration can be stale in it; each command's fork loads those from disk, as a real process
does. Which libraries: the ones earlier commands imported (each fork reports its ``sys.modules``);
a library that cannot be imported without settings stays for the fork to import.

Whatever it cannot serve faithfully runs as a real process (the client execs ``python``):
a command that is not ``python manage.py …``, a ``python`` on PATH other than the server's, a
standard input other than /dev/null (the command reads it) or a terminal, an environment that
differs from the server's in a variable Python reads at start-up or that a preloaded library read.

On by default for `runbook validate` (``--no-preload``: real processes for everything);
tests/runbooks/test_real_process_runs.py compares every cell of every runbook on every engine (each
once, each Django version at least once) with the real-process run. Operator mode (``--project``)
and `runbook run` never preload.

Run as a script by the runner: ``python preload.py SOCKET`` (standard library only at the top).
"""
from __future__ import annotations

import array
import json
import os
import select
import socket
import sys

CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "preload_client.py")
# Read by the interpreter when it starts: a fork inherits the server's values.
_STARTUP_PREFIXES = ("PYTHON", "LC_")
_STARTUP_KEYS = {"LANG", "LANGUAGE", "TZ", "HOME", "PATH"}
KERNEL_VARIABLE = "RUNBOOK_PRELOAD_SOCKET"  # read (and removed) by runbook.shell in the kernel
# Modules that copy the whole environment when imported (wsgiref.handlers: BaseHandler.os_environ,
# pulled in on Django 4.2 by django.contrib.postgres.fields -> django.test): the server never imports
# them, so each fork imports them with its command's environment. Imported by the server, they would
# send every later command to a real process ("a preloaded library read the whole environment").
LEFT_TO_FORKS = frozenset({"wsgiref.handlers"})


# -- in the kernel: how `!` lines reach the server -----------------------------------------------

def bash_prefix(socket_path: str) -> str:
    """A bash function ``python`` (not exported, so no command's environment shows it) that hands
    ``python manage.py …`` to the client; anything else runs the real ``python``. One line, so
    bash's error messages keep their line numbers."""
    client = f"command python -I -S {_quote(CLIENT)} {_quote(socket_path)}"
    return (f'python() {{ if [ "${{1-}}" = manage.py ]; then {client} "$@"; '
            f'else command python "$@"; fi; }}; ')


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


# -- in the runner: starting and stopping the server ---------------------------------------------

def serving(folder, env: dict[str, str], python: str | None = None):
    """A server for one run, in ``folder`` (its socket and log); yields the socket's path. ``env``:
    the kernel's, which the commands start from; ``python``: the run's (default: the runner's)."""
    import contextlib
    import signal
    import subprocess
    import time

    @contextlib.contextmanager
    def server():
        path = os.path.join(str(folder), "preload.sock")
        with open(os.path.join(str(folder), "preload.log"), "w") as log:
            proc = subprocess.Popen([str(python or sys.executable), os.path.abspath(__file__), path], env=env, cwd=str(folder),
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        try:
            deadline = time.monotonic() + 30
            while not os.path.exists(path):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the preload server did not start (exit {proc.poll()})")
                time.sleep(0.02)
            yield path
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the server and any fork still running
            except ProcessLookupError:
                pass
            proc.wait()

    return server()


def tally(folder) -> dict:
    """How many commands the server of a run forked, how many it sent to real processes, and why."""
    with open(os.path.join(str(folder), "preload.log")) as log:
        lines = log.read().splitlines()
    reasons: dict[str, int] = {}
    for line in lines:
        if line.startswith("real process ("):
            reason = line[len("real process ("):].split("): ", 1)[0]
            reasons[reason] = reasons.get(reason, 0) + 1
    return {"forked": sum(ln.startswith("forked ") for ln in lines), "real": sum(reasons.values()),
            "reasons": reasons}


# -- the server -----------------------------------------------------------------------------------

class Server:
    def __init__(self, path: str):
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path + ".tmp")
        self.listener.listen(64)
        os.rename(path + ".tmp", path)  # appears only when it accepts
        self.env = dict(os.environ)
        self.read_keys: set[str] = set()  # variables a preloaded library read
        self.read_all = False
        self.tried: set[str] = set()
        self.reported: set[str] = set()  # modules the forks imported
        self.running: dict[int, tuple] = {}  # report pipe fd -> (pid, connection, report chunks)
        self.projects: set[str] = set()

    def serve(self) -> None:
        while True:
            watched = [self.listener] + [conn for _, conn, _ in self.running.values() if conn] + list(self.running)
            ready, _, _ = select.select(watched, [], [])
            for item in ready:
                if item is self.listener:
                    try:
                        self.accept()
                    except (OSError, ValueError) as exc:  # a client that went away mid-request: it ran nothing
                        print(f"request dropped: {exc}", flush=True)
                elif isinstance(item, int):
                    self.collect(item)
                else:
                    self.forward_signal(item)
            if not self.running:
                self.learn()

    def accept(self) -> None:
        conn, _ = self.listener.accept()
        fds = array.array("i")
        # The descriptors come with the first bytes: the first read takes them.
        data, ancillary, _, _ = conn.recvmsg(65536, socket.CMSG_LEN(3 * fds.itemsize))
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
        data += _recv_exactly(conn, 8 - len(data)) if len(data) < 8 else b""
        size = int.from_bytes(data[:8], "big")
        data = data[8:] + _recv_exactly(conn, size - (len(data) - 8))
        request = json.loads(data)
        reason = self.why_real(request, list(fds)) if len(fds) == 3 else "no standard streams"
        if reason:
            print(f"real process ({reason}): {' '.join(request['argv'])}", flush=True)
            conn.sendall(b"real\n")
            conn.close()
            for fd in fds:
                os.close(fd)
            return
        self.projects.add(os.path.realpath(request["cwd"]))
        read_end, write_end = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            self.listener.close()
            for other in self.running.values():
                other[1].close()
            conn.close()
            _run_command(request, list(fds), write_end)  # never returns
        os.close(write_end)
        for fd in fds:
            os.close(fd)
        print(f"forked {pid}: {' '.join(request['argv'])}", flush=True)
        conn.sendall(b"forked\n")
        self.running[read_end] = (pid, conn, [])

    def why_real(self, request: dict, fds: list[int]) -> str | None:
        """Why this command must run as a real process (None: a fork is faithful)."""
        import shutil
        import stat

        argv, env, cwd = request["argv"], request["env"], request["cwd"]
        if len(argv) < 2 or argv[1] != "manage.py" or not os.path.isfile(os.path.join(cwd, "manage.py")):
            return "not python manage.py"
        if shutil.which("python", path=env.get("PATH")) != sys.executable:
            return "another python"
        stdin, null = os.fstat(fds[0]), os.stat(os.devnull)
        if not (stat.S_ISCHR(stdin.st_mode) and stdin.st_rdev == null.st_rdev):
            return "standard input is not /dev/null"
        if any(os.isatty(fd) for fd in fds):
            return "a terminal"
        if self.read_all and env != self.env:
            return "a preloaded library read the whole environment"
        keys = {k for k in set(env) | set(self.env)
                if k.startswith(_STARTUP_PREFIXES) or k in _STARTUP_KEYS or k in self.read_keys}
        if any(env.get(k) != self.env.get(k) for k in keys):
            return "the environment differs in a variable read at start-up"
        return None

    def forward_signal(self, conn) -> None:
        pipe = next(fd for fd, (_, c, _) in self.running.items() if c is conn)
        pid, _, chunks = self.running[pipe]
        line = conn.recv(64)
        number = int(line.split()[1]) if line.startswith(b"signal ") else 9  # EOF: the client was killed
        try:
            os.kill(pid, number)
        except ProcessLookupError:
            pass
        if not line:
            self.running[pipe] = (pid, None, chunks)
            conn.close()

    def collect(self, pipe: int) -> None:
        pid, conn, chunks = self.running[pipe]
        chunk = os.read(pipe, 65536)
        if chunk:
            chunks.append(chunk)
            return
        os.close(pipe)
        del self.running[pipe]
        _, status = os.waitpid(pid, 0)
        reply = f"signal {os.WTERMSIG(status)}\n" if os.WIFSIGNALED(status) else f"exit {os.WEXITSTATUS(status)}\n"
        if conn:
            try:
                conn.sendall(reply.encode())
            except OSError:
                pass
            conn.close()
        self.reported.update(b"".join(chunks).decode().split())

    def learn(self) -> None:
        """Import what the forks imported, so the next ones need not; never the project's modules."""
        import importlib
        import traceback

        pending = sorted(self.reported - self.tried)
        if not pending:
            return
        self.tried.update(pending)
        environ_class = type(os.environ)
        original_getitem, original_iter = environ_class.__getitem__, environ_class.__iter__

        def getitem(environ, key):
            self.read_keys.add(key)
            return original_getitem(environ, key)

        def iterate(environ):
            if not self.read_all:  # name the module once: it belongs in LEFT_TO_FORKS
                importer = next((f.f_code.co_filename for f, _ in traceback.walk_stack(None)
                                 if f.f_code.co_name == "<module>"), "?")
                print(f"preload: {importer} read the whole environment when imported; add it to LEFT_TO_FORKS",
                      flush=True)
            self.read_all = True
            return original_iter(environ)

        environ_class.__getitem__, environ_class.__iter__ = getitem, iterate
        sys.meta_path.insert(0, _LeftToForks)
        try:
            for name in pending:
                if name in sys.modules:
                    continue
                try:
                    importlib.import_module(name)
                except BaseException:  # noqa: BLE001 - needs settings or apps: the forks import it
                    pass
        finally:
            environ_class.__getitem__, environ_class.__iter__ = original_getitem, original_iter
            sys.meta_path.remove(_LeftToForks)
        self.check_untainted()

    def check_untainted(self) -> None:
        """The promise above: nothing of a project, no settings. Broken, the server stops (real processes)."""
        for module in list(sys.modules.values()):
            file = getattr(module, "__file__", None) or ""
            if any(os.path.realpath(file).startswith(project + os.sep) for project in self.projects):
                raise SystemExit(f"preload: imported the project's module {module.__name__}; stopping")
        conf = sys.modules.get("django.conf")
        if conf is not None and conf.settings.configured:
            raise SystemExit("preload: Django's settings were configured; stopping")


class _LeftToForks:
    """On sys.meta_path while the server learns: refuses LEFT_TO_FORKS (what imports them fails, and
    stays for the forks too)."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name in LEFT_TO_FORKS:
            raise ImportError(f"{name} is left to the forks: it copies the environment when imported")
        return None


def _recv_exactly(conn, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the client went away")
        data += chunk
    return data


def _run_command(request: dict, fds: list[int], report: int) -> None:
    """In the fork: become ``python manage.py …`` as a real process would be, run it, exit."""
    import builtins
    import importlib
    import importlib.machinery
    import types

    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    argv = request["argv"][1:]
    sys.argv = list(argv)
    script = os.path.abspath(argv[0])
    sys.path.insert(0, os.path.dirname(os.path.realpath(argv[0])))
    importlib.invalidate_caches()  # files created since the server listed a folder
    main = types.ModuleType("__main__")
    main.__file__, main.__cached__, main.__builtins__ = script, None, builtins
    main.__loader__ = importlib.machinery.SourceFileLoader("__main__", script)
    sys.modules["__main__"] = main
    code = 0
    try:
        with open(script, "rb") as file:
            source = file.read()
        exec(compile(source, script, "exec"), main.__dict__)
    except SystemExit as exc:
        code = _exit_status(exc)
    except BaseException as exc:  # noqa: BLE001 - printed as the interpreter prints it
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != script:
            tb = tb.tb_next
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)
        code = 1
    code = _finish(code)
    project = os.path.dirname(os.path.realpath(argv[0])) + os.sep
    names = [name for name, module in list(sys.modules.items())
             if name != "__main__" and not os.path.realpath(getattr(module, "__file__", None) or project).startswith(project)]
    try:
        os.write(report, "\n".join(names).encode())
    finally:
        os._exit(code)


def _exit_status(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    print(exc.code, file=sys.stderr)
    return 1


def _finish(code: int) -> int:
    """What the interpreter does at exit: join threads, run atexit, flush."""
    import atexit
    import threading

    try:
        threading._shutdown()
    except Exception:  # noqa: BLE001
        pass
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed pipe: the interpreter's exit status is 120
            code = 120
    return code


if __name__ == "__main__":
    del sys.path[0]  # this file's folder: the server imports libraries only
    Server(sys.argv[1]).serve()
