"""The typed record of one runbook run on one engine and Django version, written by `validate` and read
by the site."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from .django_versions import NEWEST
from .paths import RECORDS


@dataclass
class CellRecord:
    id: str
    commands: list[str]
    # passed | expected-failure | failed | timeout | skipped (other engine) | not-run (after a failure)
    outcome: str
    duration: float = 0.0
    exit: int | None = None
    output: str = ""
    error: str | None = None


Mode = Literal["preloaded", "processes"]
MODES: tuple[Mode, ...] = ("preloaded", "processes")


@dataclass
class RunRecord:
    runbook: str
    engine: str
    outcome: str  # passed | failed
    started: str
    duration: float
    versions: dict[str, str]
    cells: list[CellRecord] = field(default_factory=list)
    error: str | None = None
    cache_key: str | None = None
    django: str = NEWEST  # the series the run used: "4.2", "5.2" (runbook.django_versions)
    # How `python manage.py …` ran: forks of a preloaded process (runbook.preload; `validate`'s
    # default), or real processes for every command (`validate --no-preload`, `run`, operator mode).
    mode: Mode = "processes"
    # When preloaded: how many commands ran in a fork, and how many the server sent to real processes.
    preload: dict | None = None  # {"forked": n, "real": n, "reasons": {why real: n}}

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    def cell(self, cell_id: str) -> CellRecord | None:
        return next((c for c in self.cells if c.id == cell_id), None)

    def to_json(self) -> str:
        return json.dumps(
            {"generated_by": "runbook validate", **asdict(self)}, indent=2, ensure_ascii=False
        )

    @classmethod
    def from_json(cls, text: str) -> "RunRecord":
        data = json.loads(text)
        data.pop("generated_by", None)
        data["cells"] = [CellRecord(**c) for c in data.get("cells", [])]
        if data.setdefault("mode", "processes") not in MODES:  # before the field existed: real processes
            raise ValueError(f"unknown mode {data['mode']!r}: one of {', '.join(MODES)}")
        return cls(**data)


def record_path(runbook: str, engine: str, folder: Path = RECORDS, django: str = NEWEST) -> Path:
    return folder / runbook / f"django-{django}" / f"{engine}.json"


def save(record: RunRecord, folder: Path = RECORDS) -> Path:
    path = record_path(record.runbook, record.engine, folder, record.django)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(record.to_json())
    tmp.replace(path)  # atomic: a reader never sees half a record
    return path


def load(runbook: str, engine: str, folder: Path = RECORDS, django: str = NEWEST) -> RunRecord | None:
    path = record_path(runbook, engine, folder, django)
    if not path.is_file():
        return None
    return RunRecord.from_json(path.read_text())
