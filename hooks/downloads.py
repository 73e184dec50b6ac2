"""Publish each runbook notebook beside the pages: site/runbooks/<slug>.ipynb.

The notebooks join the build as files (not copied after it), so links to them are validated.
"""
from __future__ import annotations

from mkdocs.structure.files import File

from runbook.paths import REPO, RUNBOOKS


def on_files(files, config):
    for notebook in sorted(RUNBOOKS.glob("*.ipynb")):
        files.append(File(
            f"runbooks/{notebook.name}", src_dir=str(REPO), dest_dir=config["site_dir"],
            use_directory_urls=config["use_directory_urls"],
        ))
    return files
