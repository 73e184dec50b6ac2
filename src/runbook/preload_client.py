"""The client side of preloading (see runbook.preload): ``python -I -S preload_client.py SOCKET manage.py …``.

Standalone (standard library only, started with ``-I -S`` for speed). It hands the preload server
its argv, folder, environment and standard streams; the server either runs the command in a fork
of its preloaded process and sends back the exit status, or answers ``real``: the client then
becomes ``python manage.py …`` itself (exec), exactly as if it had never been there.
"""
import array
import json
import os
import signal
import socket
import sys


def main() -> None:
    path, argv = sys.argv[1], ["python", *sys.argv[2:]]
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(path)
        request = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
        conn.sendmsg([len(request).to_bytes(8, "big") + request],
                     [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [0, 1, 2]))])
        reply = conn.makefile("r")
        answer = reply.readline().strip()
    except OSError:
        answer = "real"  # no server (it stopped): a real process
    if answer != "forked":
        os.execvp("python", argv)
    # Interrupts and timeouts reach this process (the command's process group): pass them on.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda number, frame: conn.sendall(f"signal {number}\n".encode()))
    status = reply.readline().split()
    if not status:
        os._exit(1)
    kind, value = status[0], int(status[1])
    if kind == "signal":  # die of the same signal, as the real process would have
        signal.signal(value, signal.SIG_DFL)
        os.kill(os.getpid(), value)
    os._exit(value)


if __name__ == "__main__":
    main()
