"""The macro ``{{ benchmark_results() }}``: the committed benchmark results
(``benchmarks/last-results.json``, written by ``benchmarks/run.py --publish``) as a table of each
method's time and its ratio to the floor, and the same ratios as a chart drawn at build time.

The git-ignored ``benchmarks/results/latest.json`` of a local run is never shown: what the page
states is what was committed, with its date, machine and command.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..paths import REPO
from .benchmark_chart import ratio_chart
from .markdown_blocks import table

PUBLISHED = REPO / "benchmarks" / "last-results.json"
FLOOR = "floor"
PRELOADED = "validate_cold_preload"
# Methods timed in seconds against their own targets, not against the floor: in the table, not the chart.
NOT_RATIOS = {"validate_warm", "prose_rebuild"}
PRELOAD_GOAL = 0.5


def benchmark_results(path: Path = PUBLISHED) -> str:
    """The results at ``path``; their absence is only a note (the site builds without them)."""
    if not path.is_file():
        return ('!!! note "No benchmark results yet"\n\n'
                "    Run `.venv/bin/python benchmarks/run.py --publish` and rebuild the site.")
    results = json.loads(path.read_text())
    methods = results["methods"]
    if FLOOR not in methods:
        raise ValueError(f"{path}: no floor measured, so no ratio to show")
    floor = methods[FLOOR]
    rows, bars = [], []
    for name, m in methods.items():
        ratio = m["median"] / floor["median"]
        cpu_ratio = m["cpu_seconds"] / floor["cpu_seconds"] if floor["cpu_seconds"] else None
        shown = "" if name in NOT_RATIOS else f"{ratio:.2f}×"
        shown_cpu = "" if name in NOT_RATIOS or cpu_ratio is None else f"{cpu_ratio:.2f}×"
        rows.append([m["label"], f"{m['median']:.1f} s", shown, f"{m['cpu_seconds']:.1f} s", shown_cpu,
                     f"{m['peak_memory_mb']} MB"])
        if name not in NOT_RATIOS:
            bars.append((m["label"], ratio))
    chart = ratio_chart(
        bars, title="Time of each method as a multiple of the floor",
        description=("Bar chart of each method's median wall time divided by the floor's (the same commands "
                     f"in a plain bash script), measured {_day(results['when'])}; shorter is faster."),
        highlight=methods.get(PRELOADED, {}).get("label"), goal=(PRELOAD_GOAL, f"goal for preloaded: {PRELOAD_GOAL}×"),
    )
    machine = results["machine"]
    lines = [
        f"Measured {_day(results['when'])} with `{results.get('command', 'python benchmarks/run.py')}`: "
        f"runbooks {', '.join(results['runbooks'])} on {', '.join(results['engines'])}; "
        f"{_runs(results['repeat'])} of each method, on {machine['cores']} cores"
        f"{' (' + machine['cpu'] + ')' if machine.get('cpu') else ''}, load average "
        f"{machine['load_average_before'][0]} before"
        + (f" and {machine['load_average_after'][0]} after." if "load_average_after" in machine else "."),
    ]
    if results.get("note"):
        lines += ["", results["note"]]
    lines += ["", f"<figure>{chart}</figure>", "",
              table(["Method", "Median (wall)", "× floor", "CPU", "× floor in CPU", "Peak memory"], rows)]
    targets = results.get("targets", [])
    if targets:
        lines += ["", table(["Target", "Measured", "Goal", "Met"],
                            [[t["name"], f"{t['value']:.2f}", t["target"], "✅ met" if t["met"] else "❌ missed"]
                             for t in targets])]
    lines += ["", "*Generated at build time from `benchmarks/last-results.json` (committed; written by "
                  "`benchmarks/run.py --publish`).*"]
    return "\n".join(lines)


def _day(iso: str) -> str:
    return iso.replace("T", " ")[:16] + " UTC"


def _runs(repeat: int) -> str:
    return "one run" if repeat == 1 else f"the median of {repeat} runs"
