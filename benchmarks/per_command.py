"""Time single commands as real processes and preloaded, interleaved, on one SQLite copy of the sample project.

    .venv/bin/python benchmarks/per_command.py [--repeat 6]

Where a preloaded command's time goes: what the fork saves (Django's imports) against what it still
pays (bash, the client's `python -I -S`, settings, apps and the command's own work). Each command
runs as runbook.shell runs a `!` line (bash, no standard input); the medians are printed.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from runbook import executor, preload  # noqa: E402

COMMANDS = ["python manage.py check", "python manage.py showmigrations",
            "python manage.py shell -v 0 -c 'print(1)'"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=6, help="runs of each command each way (default: 6)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="per-command-") as folder:
        tmp = Path(folder)
        project = executor.copy_sample_project(tmp / "project")
        env = {**executor.command_environment(), "DATABASE_URL": f"sqlite:///{tmp}/db.sqlite3"}

        def timed(line: str) -> float:
            start = time.perf_counter()
            subprocess.run(line, shell=True, executable="/bin/bash", cwd=project, env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, check=True)
            return time.perf_counter() - start

        with preload.serving(tmp, executor.command_environment()) as socket_path:
            timed("python manage.py migrate -v 0")
            client = statistics.median(timed("python -I -S -c pass") for _ in range(args.repeat))
            for command in COMMANDS:
                real, preloaded = [], []
                for _ in range(args.repeat):  # interleaved: the machine's load falls on both alike
                    real.append(timed(command))
                    preloaded.append(timed(preload.bash_prefix(socket_path) + command))
                print(f"{command:<45} real process {statistics.median(real):6.3f} s   "
                      f"preloaded {statistics.median(preloaded):6.3f} s", flush=True)
            print(f"{'python -I -S -c pass (the client starting)':<45} {client:6.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
