"""runbook.scrub: what a published output never carries."""
from __future__ import annotations

import pytest

from runbook import scrub
from runbook.executor import copy_sample_project


@pytest.mark.parametrize("text, clean", [
    ("\x1b[1;32mOK\x1b[0m done", "OK done"),
    ("at 0x7f3a2b1c9d00>", "at 0x…>"),
    ("at 0x12345 and 0xabcdef", "at 0x12345 and 0x…"),
    ("postgres://me:hunter22@db/x", "postgres://me:********@db/x"),
    ("see rb_fault_server_0a1b2c3d now", "see <database> now"),
    ("rb_x_0a1b2c3", "rb_x_0a1b2c3"),
    ("2026-01-02 03:04 2026-01-02T03:04:05 2026-01-02T03:04:05.123+01:00 2026-01-02 03:04:05Z",
     "<timestamp> <timestamp> <timestamp> <timestamp>"),
    ("version 2026-01-02", "version 2026-01-02"),
])
def test_volatile_details_and_url_passwords(text, clean):
    assert scrub.scrub(text) == clean


def test_secrets_are_masked_before_paths_are_replaced():
    text = "/tmp/run/project/secret-value-1234 /tmp/run/x /tmp/run"
    assert scrub.scrub(text, {"/tmp/run": "<tmp>", "/tmp/run/project": "<project>", "": "never"},
                       ("secret-value-1234", "")) == "<project>/******** <tmp>/x <tmp>"


def test_a_longer_secret_is_masked_whole():
    assert scrub.scrub("key=abcd1234efgh", secrets=("abcd1234efgh", "1234")) == "key=********"
    assert scrub.scrub("key=abcd1234efgh", secrets=scrub.secrets_of({"A_TOKEN": "abcd1234efgh", "B_KEY": "1234efgh"}, "sqlite:///x")) \
        == "key=********"


def test_secrets_of_the_environment_and_urls():
    env = {
        "DB_PASSWORD": "long-enough",  # secret name, long enough
        "API_TOKEN": "short",  # too short to mask without masking words
        "HOME_DIR": "/root/not-a-secret",  # no secret name
        "private_thing": "lowercase-name-too",
        "OTHER_URL": "mysql://u:envpass@h/db",
        "BROKEN_URL": "http://[::1",  # not a URL: ignored
    }
    found = scrub.secrets_of(env, "postgres://me:urlpass@h/db")
    assert set(found) == {"lowercase-name-too", "long-enough", "envpass", "urlpass"}
    assert [len(s) for s in found] == [18, 11, 7, 7]  # longest first


def test_short_url_passwords_are_not_secrets():
    assert scrub.secrets_of({}, "postgres://me:abc@h/db") == ()
    assert scrub.secrets_of({}, "postgres://me:abcd@h/db") == ("abcd",)
    assert scrub.secrets_of({"X_SECRET": "1234567"}, "sqlite:///x") == ()
    assert scrub.secrets_of({"X_SECRET": "12345678"}, "sqlite:///x") == ("12345678",)


def test_an_operators_secret_key_is_a_secret(tmp_path):
    project = copy_sample_project(tmp_path / "own")
    settings = project / "config" / "settings.py"
    lines = [ln for ln in settings.read_text().splitlines() if not ln.startswith("SECRET_KEY")]
    settings.write_text("\n".join(lines) + "\nSECRET_KEY = 'the-operators-own-key-42'\n")
    url = f"sqlite:///{tmp_path / 'own.sqlite3'}"
    assert scrub.settings_secret_key(project, {"DATABASE_URL": url}) == "the-operators-own-key-42"
    assert "the-operators-own-key-42" in scrub.secrets_of({}, url, project)
    assert "the-operators-own-key-42" not in scrub.secrets_of({}, url)


def test_a_broken_project_has_no_secret_key(tmp_path):
    (tmp_path / "manage.py").write_text("import sys\nprint('not django')\nsys.exit(1)\n")
    assert scrub.settings_secret_key(tmp_path, {}) == ""
    (tmp_path / "manage.py").write_text("")
    assert scrub.settings_secret_key(tmp_path, {}) == ""


def test_the_settings_are_read_with_the_runs_database_and_no_input(tmp_path, monkeypatch):
    from .test_backup import stdin_is_a_pipe

    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    # A project whose "SECRET_KEY" is what its manage.py was given: the run's DATABASE_URL, no
    # bytecode, and /dev/null as standard input (a prompt fails instead of waiting).
    (tmp_path / "manage.py").write_text(
        "import os, sys\n"
        "null = os.path.samestat(os.fstat(0), os.stat(os.devnull))\n"
        "print('ignored line')\n"
        "print(os.environ.get('DATABASE_URL'), os.environ.get('PYTHONDONTWRITEBYTECODE'), os.environ.get('FROM_ENV'), null)\n")
    env = {"FROM_ENV": "passed-along"}
    with stdin_is_a_pipe():
        assert scrub.settings_secret_key(tmp_path, {**env, "DATABASE_URL": "sqlite:///given"}) == \
            "sqlite:///given 1 passed-along True"
        assert scrub.secrets_of(env, "sqlite:////the/runs.sqlite3", tmp_path) == (
            "sqlite:////the/runs.sqlite3 1 passed-along True",)


def test_a_project_folder_that_is_gone_has_no_secret_key(tmp_path):
    assert scrub.settings_secret_key(tmp_path / "gone", {}) == ""
