"""Ask the sample project's Django what the site needs to know; print it as JSON.

Run by the site's hooks in a subprocess, so that the build process never configures Django:

    python hooks/django_probe.py graph PROJECT            # migration graph of PROJECT as it is
    python hooks/django_probe.py graph-from-scratch PROJECT   # after the guide's step 1 (a copy)
    python hooks/django_probe.py help PROJECT migrate --plan ...  # help of commands and options

`graph` prints {"nodes": [[app, name], ...], "edges": [[child, parent, kind], ...]} for the
accounts, transaction and finflo apps; kind is "dependency" or "run_before". A cycle does not stop
it: the graph is read before Django checks it for cycles.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

APPS = ("accounts", "transaction", "finflo")


def main(argv: list[str]) -> int:
    what, project, *rest = argv
    project = Path(project).resolve()
    probes = {"graph": _graph, "graph-from-scratch": _graph_from_scratch, "help": _help}
    if what not in probes:
        raise SystemExit(f"unknown probe {what!r}")
    with tempfile.TemporaryDirectory(prefix="site-probe-") as cwd:
        os.chdir(cwd)  # finflo writes finflo.log into the current folder
        result = probes[what](project, *([rest] if what == "help" else []))
    print(json.dumps(result))
    return 0


def _setup(project: Path) -> None:
    sys.path.insert(0, str(project))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ.setdefault("DATABASE_URL", "sqlite://:memory:")
    import django

    django.setup()


def _graph(project: Path) -> dict:
    _setup(project)
    from django.db.migrations.exceptions import CircularDependencyError
    from django.db.migrations.loader import MigrationLoader

    # MigrationLoader() raises on a cycle before handing back the graph; build it step by step.
    loader = MigrationLoader.__new__(MigrationLoader)
    loader.connection, loader.ignore_no_migrations, loader.replace_migrations = None, True, True
    try:
        loader.build_graph()
    except CircularDependencyError:
        pass
    graph = loader.graph
    nodes = sorted(n for n in graph.nodes if n[0] in APPS)
    edges = []
    for child in nodes:
        migration = graph.nodes[child]
        for parent in sorted(graph.node_map[child].parents, key=lambda n: n.key):
            if parent.key[0] not in APPS:
                continue
            declared_by_parent = child in getattr(graph.nodes[parent.key], "run_before", [])
            kind = "run_before" if declared_by_parent and parent.key not in migration.dependencies else "dependency"
            edges.append([list(child), list(parent.key), kind])
    return {"nodes": [list(n) for n in nodes], "edges": edges}


def _graph_from_scratch(project: Path) -> dict:
    """Delete accounts' and transaction's migrations in a copy, run `makemigrations accounts`."""
    with tempfile.TemporaryDirectory(prefix="site-graph-") as tmp:
        copy = Path(tmp) / "project"
        shutil.copytree(project, copy, ignore=shutil.ignore_patterns("__pycache__", "db.sqlite3", "*.log"))
        for app in ("accounts", "transaction"):
            shutil.rmtree(copy / app / "migrations")
        env = {**os.environ, "DATABASE_URL": "sqlite://:memory:", "PYTHONDONTWRITEBYTECODE": "1"}
        subprocess.run([sys.executable, "manage.py", "makemigrations", "accounts"], cwd=copy, env=env,
                       check=True, capture_output=True)
        return _graph(copy)


def _help(project: Path, words: list[str]) -> dict:
    """Help of each `manage.py` command named, and of each of its options named after it."""
    _setup(project)
    from django.core.management import get_commands, load_command_class

    commands = get_commands()
    result: dict[str, dict] = {}
    current = None
    for word in words:
        if not word.startswith("-"):
            if word not in commands:
                result[word] = {"help": None, "options": {}}
                current = None
                continue
            cmd = load_command_class(commands[word], word)
            current = result.setdefault(word, {"help": cmd.help.strip(), "options": {}, "_cmd": cmd})
        elif current is not None:
            parser = current["_cmd"].create_parser("manage.py", word)
            option = word.split("=")[0]
            action = parser._option_string_actions.get(option)
            current["options"][option] = action.help if action else None
    for entry in result.values():
        entry.pop("_cmd", None)
    return result


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
