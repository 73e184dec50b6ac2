"""runbook.cache: the key covers everything a record depends on, and nothing else."""
from __future__ import annotations

import ast
import shutil
from pathlib import Path

import nbformat
import pytest

from runbook import cache
from runbook.records import RunRecord

from ..conftest import REPO
from ..notebook_builder import cell


@pytest.fixture
def world(tmp_path, make_runbook, monkeypatch):
    """A sample project, a lock and a runner of the test's own, and a runbook."""
    project = tmp_path / "sample"
    (project / "app" / "__pycache__").mkdir(parents=True)
    (project / "manage.py").write_text("print('manage')\n")
    (project / "app" / "models.py").write_text("class M: pass\n")
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("django==5.2.19\n")
    runner = tmp_path / "runner"
    runner.mkdir()
    (runner / "executor.py").write_text("RUN = 1\n")
    monkeypatch.setattr(cache, "_RUNNER", runner)
    monkeypatch.setattr(cache, "installed_versions", lambda: {"django": "5.2.19", "finflo": "2.0.44"})
    rb = make_runbook([cell("a", "!true", output="x")])

    class World:
        pass

    w = World()
    w.project, w.constraints, w.runner, w.runbook = project, constraints, runner, rb
    w.key = lambda engine="sqlite", server="3.40", mode="preloaded": cache.cache_key(
        rb, engine, server, mode, cache.Inputs(project, constraints))
    return w


def test_the_key_is_stable(world):
    assert world.key() == world.key()
    assert len(world.key()) == 64


def test_the_engine_and_its_server_version_count(world):
    assert len({world.key(), world.key(engine="postgresql"), world.key(server="3.41")}) == 3


def test_the_mode_counts_and_must_be_one_of_the_two(world):
    assert world.key(mode="preloaded") != world.key(mode="processes")
    with pytest.raises(ValueError, match="unknown mode 'preload'"):
        world.key(mode="preload")


def test_a_record_is_fresh_only_in_the_mode_it_names(world):
    inputs = cache.Inputs(world.project, world.constraints)
    record = record_for(world, world.key(mode="processes"))
    record.mode = "processes"
    assert cache.is_fresh(record, world.runbook, inputs)
    record.mode = "preloaded"  # the same key, claimed for the other mode
    assert not cache.is_fresh(record, world.runbook, inputs)


@pytest.mark.parametrize("change", [
    lambda w: (w.project / "app" / "models.py").write_text("class M: x = 1\n"),
    lambda w: (w.project / "app" / "views.py").write_text(""),
    lambda w: (w.project / "app" / "models.py").rename(w.project / "app" / "models2.py"),
    lambda w: w.constraints.write_text("django==5.2.20\n"),
    lambda w: w.constraints.unlink(),
    lambda w: (w.runner / "executor.py").write_text("RUN = 2\n"),
    lambda w: (w.runner / "guards.py").write_text(""),
])
def test_a_change_to_the_project_the_lock_or_the_runner_changes_the_key(world, change):
    before = world.key()
    change(world)
    assert world.key() != before


@pytest.mark.parametrize("change", [
    lambda w: (w.project / "db.sqlite3").write_text("data"),
    lambda w: (w.project / "app" / "db.sqlite3").write_text("data"),
    lambda w: (w.project / "finflo.log").write_text("log"),
    lambda w: (w.project / "app" / "__pycache__" / "models.cpython-311.pyc").write_bytes(b"\0"),
    lambda w: (w.project / "app" / "stray.pyc").write_bytes(b"\0"),
    lambda w: (w.project / "app" / "empty-folder").mkdir(),
    lambda w: (w.runner / "notes.txt").write_text("not python"),
])
def test_files_runs_make_do_not_change_the_key(world, change):
    before = world.key()
    change(world)
    assert world.key() == before


def test_the_site_builds_own_modules_do_not_change_the_key(world):
    """src/runbook/pages/ and pagecheck.py shape pages, not records."""
    before = world.key()
    (world.runner / "pages").mkdir()
    (world.runner / "pages" / "summary_macros.py").write_text("WORDING = 2\n")
    (world.runner / "pagecheck.py").write_text("CHECK = 2\n")
    assert world.key() == before


def test_no_runner_module_imports_the_site_builds_own():
    """Else a run would depend on code its key does not cover, and a stale record pass as fresh."""
    site_only = {"pages", *(name.removesuffix(".py") for name in cache.SITE_ONLY)}
    found = []
    for path in sorted((REPO / "src" / "runbook").glob("*.py")):
        if path.name not in cache.SITE_ONLY:
            found += [f"{path.name} imports {name}" for name in _runbook_modules_imported(path) if name in site_only]
    assert found == []


def _runbook_modules_imported(path: Path) -> set[str]:
    """The modules of the runbook package that a module of it imports, by name ("cache", "pages")."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:  # from .cache import ..., from . import cache
                parts = node.module.split(".") if node.module else []
            elif node.level == 0 and (node.module or "").split(".")[0] == "runbook":
                parts = node.module.split(".")[1:]
            else:
                continue
            names |= {parts[0]} if parts else {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name.split(".")[1] for a in node.names if a.name.startswith("runbook.")}
    return names


def test_installed_versions_count(world, monkeypatch):
    before = world.key()
    monkeypatch.setattr(cache, "installed_versions", lambda: {"django": "5.2.20", "finflo": "2.0.44"})
    assert world.key() != before


def test_installed_versions_are_read_from_the_environment(monkeypatch):
    from importlib.metadata import version

    assert cache.installed_versions() == {name: version(name) for name in cache.DEPENDENCIES}
    monkeypatch.setattr(cache, "DEPENDENCIES", ("django", "no-such-package-here"))
    assert cache.installed_versions() == {"django": version("django"), "no-such-package-here": "not installed"}


def edit_notebook(path: Path, edit) -> None:
    nb = nbformat.read(path, as_version=4)
    edit(nb)
    nbformat.write(nb, path)


@pytest.mark.parametrize("edit, counts", [
    (lambda nb: setattr(nb.cells[2], "source", "!false"), True),
    (lambda nb: setattr(nb.cells[2], "id", "renamed"), True),
    (lambda nb: nb.cells[2].metadata["runbook"].update(timeout=5), True),
    (lambda nb: nb.metadata["runbook"].update(destructive=True), True),
    (lambda nb: nb.cells.append(nbformat.v4.new_markdown_cell("prose")), False),
    (lambda nb: nb.cells[2].outputs.append(nbformat.v4.new_output("stream", text="x")), False),
    (lambda nb: nb.metadata.update(language_info={"name": "python"}), False),
])
def test_what_in_a_runbook_counts(world, edit, counts):
    before = world.key()
    edit_notebook(world.runbook.path, edit)
    assert (world.key() != before) is counts


def test_file_names_and_contents_cannot_run_together(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    (one / "a").write_text("bc")
    (two / "ab").write_text("c")
    assert cache._digest_files(one, [one / "a"]) != cache._digest_files(two, [two / "ab"])


def test_project_files_are_sorted_and_relative_to_the_project(world):
    assert cache._project_files(world.project) == [world.project / "app" / "models.py", world.project / "manage.py"]
    moved = world.project.parent / "elsewhere"
    shutil.copytree(world.project, moved)
    assert cache.Inputs(moved, world.constraints).project == cache.Inputs(world.project, world.constraints).project


def test_the_default_inputs_are_the_repositorys():
    inputs = cache.Inputs()
    assert inputs.sample_project == REPO / "sampleproject" and inputs.constraints == REPO / "constraints.txt"


def record_for(world, key, server="3.40", engine="sqlite"):
    return RunRecord("probe", engine, "passed", "2026-01-01T00:00:00+00:00", 1.0, {engine: server}, cache_key=key,
                     mode="preloaded")


def test_a_record_is_fresh_while_its_key_matches(world):
    inputs = cache.Inputs(world.project, world.constraints)
    record = record_for(world, world.key())
    assert cache.is_fresh(record, world.runbook, inputs)
    assert cache.is_fresh(record, world.runbook, inputs, server_version="3.40")
    assert not cache.is_fresh(record, world.runbook, inputs, server_version="3.41")
    (world.project / "manage.py").write_text("changed\n")
    assert not cache.is_fresh(record, world.runbook, cache.Inputs(world.project, world.constraints))


def test_the_server_version_comes_from_the_record_of_its_engine(world):
    inputs = cache.Inputs(world.project, world.constraints)
    record = record_for(world, world.key(engine="postgresql", server="15.1"), server="15.1", engine="postgresql")
    record.versions["sqlite"] = "3.40"
    assert cache.is_fresh(record, world.runbook, inputs)


def test_a_record_without_a_key_is_never_fresh(world):
    record = record_for(world, None)
    assert cache.is_fresh(record, world.runbook, cache.Inputs(world.project, world.constraints)) is False
    record = record_for(world, "")
    assert cache.is_fresh(record, world.runbook, cache.Inputs(world.project, world.constraints)) is False


# -- the key's exact composition: a change to it makes every record stale, so it is pinned here, and
#    changing it means changing KEY_FORMAT too.

def sha256_of_json(value) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def test_the_runbook_digest_is_of_code_cells_and_runbook_metadata(tmp_path):
    nb = nbformat.v4.new_notebook(metadata={"runbook": {"title": "Ünïcode", "destructive": True}})
    code = nbformat.v4.new_code_cell("!echo é", metadata={"runbook": {"timeout": 5}})
    code.id = "first"
    nb.cells = [nbformat.v4.new_markdown_cell("prose"), code]
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    assert cache.runbook_digest(path) == sha256_of_json({
        "runbook": {"title": "Ünïcode", "destructive": True},
        "cells": [{"id": "first", "source": "!echo é", "metadata": {"runbook": {"timeout": 5}}}],
    })


def test_the_key_is_the_digest_of_its_parts(world):
    inputs = cache.Inputs(world.project, world.constraints)
    assert cache.KEY_FORMAT == "3"
    assert world.key("postgresql", "15.1", "processes") == sha256_of_json({
        "format": cache.KEY_FORMAT, "runbook": cache.runbook_digest(world.runbook.path), "project": inputs.project,
        "django": "5.2", "dependencies": inputs.dependencies, "runner": inputs.runner, "engine": "postgresql",
        "server": "15.1", "mode": "processes",
    })
    assert inputs.dependencies == sha256_of_json({"constraints": "django==5.2.19\n",
                                                   "installed": {"django": "5.2.19", "finflo": "2.0.44"}})


def test_files_are_digested_with_their_names_and_lengths(tmp_path):
    import hashlib

    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.py").write_bytes(b"print(1)\n")
    (tmp_path / "b").write_bytes(b"")
    expected = hashlib.sha256(b"8:sub/a.py9:print(1)\n" + b"1:b0:").hexdigest()
    assert cache._digest_files(tmp_path, [tmp_path / "sub" / "a.py", tmp_path / "b"]) == expected


def test_values_that_are_not_json_are_digested_as_text():
    assert cache._digest_json({"path": Path("/x"), "é": 1}) == sha256_of_json({"path": "/x", "é": 1})


def test_a_record_without_its_engines_version_is_keyed_on_an_empty_version(world):
    record = record_for(world, world.key(server=""))
    record.versions = {}
    assert cache.is_fresh(record, world.runbook, cache.Inputs(world.project, world.constraints))
