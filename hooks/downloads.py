"""Publish each runbook notebook beside the pages: site/runbooks/<slug>.ipynb.

The notebooks join the build as files (not copied after it), so links to them are validated.
"""
from __future__ import annotations

from mkdocs.structure.files import File

from runbook.paths import RUNBOOKS


def on_files(files, config):
    for notebook in sorted(RUNBOOKS.glob("*.ipynb")):
        files.append(File.generated(config, f"runbooks/{notebook.name}", abs_src_path=str(notebook)))
    return files
