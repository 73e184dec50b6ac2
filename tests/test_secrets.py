"""Secrets never reach a record, an executed notebook or the built site.

Canaries: DJANGO_SECRET_KEY and FOO_TOKEN in the environment, the password of a throwaway
PostgreSQL role in the database URL, and (operator mode) a SECRET_KEY written in the project's
settings. A runbook prints them every way it can (`echo $DATABASE_URL`, `diffsettings`, `env`,
`os.environ` as a cell result); the canaries must appear nowhere in what is kept or published.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from runbook import databases
from runbook.executor import copy_sample_project

from .conftest import REPO, require_server
from .notebook_builder import cell, write_runbook
from .test_site import _config_for

BIN = Path(sys.executable).parent
CANARIES = {
    "DJANGO_SECRET_KEY": "canary-secret-key-4f1c",
    "FOO_TOKEN": "canary-token-9b2e",
    "password": "canary-password-77d0",
    "settings": "canary-settings-key-a5e3",
}
ROLE = "rb_canary_role"
CELLS = [
    cell("url", "!echo $DATABASE_URL"),
    cell("param", "print(database_url)", hidden="Python, not a shell step: checked in the executed notebook"),
    cell("diffsettings", "!python manage.py diffsettings | grep SECRET"),
    cell("env", "!env | sort"),
    cell("environ", "import os\nos.environ", hidden="Python, not a shell step: checked in the executed notebook"),
    cell("migrate", "!python manage.py migrate -v0"),
]


def _leaks(folder: Path) -> dict[str, list[str]]:
    found = {}
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits = [name for name, canary in CANARIES.items() if canary.encode() in data]
            if hits:
                found[str(path)] = hits
    return found


def _psql(sql: str) -> None:
    with databases._connect(databases.Database(databases.SERVER_URLS["postgresql"])) as conn, conn.cursor() as cur:
        cur.execute(sql)


def test_canaries_reach_no_record_notebook_or_page(tmp_path):
    require_server("postgresql")
    runbooks = tmp_path / "runbooks"
    shutil.copytree(REPO / "runbooks", runbooks)
    write_runbook(runbooks, "canary", CELLS)
    server = databases.Database(databases.SERVER_URLS["postgresql"])
    _psql(f"DROP ROLE IF EXISTS {ROLE}")
    _psql(f"CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{CANARIES['password']}'")
    try:
        canary_url = f"postgres://{ROLE}:{CANARIES['password']}@{server.host}:5432/postgres"
        env = {**os.environ, "RUNBOOK_DIR": str(runbooks), "RUNBOOK_POSTGRES_URL": canary_url,
               "DJANGO_SECRET_KEY": CANARIES["DJANGO_SECRET_KEY"], "FOO_TOKEN": CANARIES["FOO_TOKEN"]}
        records = tmp_path / "records"
        validated = subprocess.run(
            [sys.executable, "-m", "runbook.cli", "validate", "canary", "--engine", "postgresql", "--engine", "sqlite",
             "--records", str(records), "--no-cache", "-v"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
        )
        assert validated.returncode == 0, validated.stdout + validated.stderr
        # The runbook did print them: masked, not missing.
        assert "SECRET_KEY = '********'" in validated.stdout
        assert f"postgres://{ROLE}:********@" in validated.stdout and "FOO_TOKEN=********" in validated.stdout

        # Operator mode: the SECRET_KEY written in the project's own settings.
        own = copy_sample_project(tmp_path / "own")
        settings = own / "config" / "settings.py"
        settings.write_text(settings.read_text().replace(
            'os.environ.get("DJANGO_SECRET_KEY", "sample-project-insecure-key")', repr(CANARIES["settings"])))
        subprocess.run(["git", "-c", "user.name=op", "-c", "user.email=op@localhost", "commit", "-qam", "own key"],
                       cwd=own, check=True)
        operator_nb = tmp_path / "operator.ipynb"
        operated = subprocess.run(
            [sys.executable, "-m", "runbook.cli", "run", "canary", "--project", str(own), "--database-url",
             f"sqlite:///{tmp_path / 'own.sqlite3'}", "--output", str(operator_nb)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
        )
        assert operated.returncode == 0, operated.stdout + operated.stderr
        assert "SECRET_KEY = '********'" in operated.stdout

        executed = tmp_path / "executed"
        executed.mkdir()
        for engine in ("postgresql", "sqlite"):
            for django in ("4.2", "5.2"):  # every version, each with its own environment's paths to scrub
                shutil.move(REPO / ".runbook" / "executed" / f"canary-{engine}-django-{django}.ipynb", executed)
        shutil.move(operator_nb, executed)

        site = _build_site_with_a_canary_page(tmp_path, runbooks, records, env)
        page = (site / "how-to" / "canary" / "index.html").read_text()
        assert "SECRET_KEY = &#39;********&#39;" in page or "SECRET_KEY = '********'" in page
        assert page.count("********") >= 4
    finally:
        _psql(f"DROP ROLE IF EXISTS {ROLE}")

    assert _leaks(records) == {}
    assert _leaks(executed) == {}
    assert _leaks(site) == {}
    assert validated.stdout.count("********") >= 3
    for name, canary in CANARIES.items():
        assert canary not in validated.stdout + validated.stderr + operated.stdout + operated.stderr, name


def _build_site_with_a_canary_page(tmp_path: Path, runbooks: Path, records: Path, env: dict) -> Path:
    docs = tmp_path / "docs"
    shutil.copytree(REPO / "docs", docs)
    (docs / "how-to" / "canary.md").write_text(
        "# How to print secrets\n\n" + "\n\n".join(
            f'{{{{ step("canary", "{c.id}") }}}}' for c in CELLS if c.source.startswith("!")) + "\n")
    config = _config_for(docs)
    data = yaml.safe_load(config.read_text())
    how_to = next(section for section in data["nav"] if isinstance(section, dict) and "How-to guides" in section)
    how_to["How-to guides"].append({"How to print secrets": "how-to/canary.md"})
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    site = tmp_path / "site"
    result = subprocess.run(
        [BIN / "mkdocs", "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env={**env, "RUNBOOK_RECORDS": str(records), "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return site
