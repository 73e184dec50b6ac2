"""The performance page's results: ratios to the floor as a table and as a chart drawn at build time,
whose text alternative says every value (src/runbook/pages/benchmark_results.py, benchmark_chart.py)."""
from __future__ import annotations

import json
import re

import pytest

from runbook.pages import benchmark_chart, benchmark_results


def results(**methods) -> dict:
    return {
        "generated_by": "benchmarks/run.py", "when": "2026-12-03T16:05:09+00:00",
        "machine": {"cores": 2, "cpu": "Test CPU", "python": "3.11.7", "load_average_before": [3.5, 2, 1],
                    "load_average_after": [4.25, 3, 2]},
        "runbooks": ["alpha", "beta"], "engines": ["sqlite"], "repeat": 1,
        "methods": {name: {"label": label, "runs": [median], "median": median, "peak_memory_mb": 100,
                           "cpu_seconds": cpu} for name, (label, median, cpu) in methods.items()},
        "targets": [], "command": "python benchmarks/run.py --repeat 1 --publish", "note": "Measured for a test.",
    }


@pytest.fixture
def published(tmp_path):
    path = tmp_path / "last-results.json"
    path.write_text(json.dumps(results(
        validate_cold_sequential=("validate real", 110.0, 80.0),
        floor=("the floor", 100.0, 90.0),
        validate_cold_preload=("validate preloaded", 30.0, 18.0),
        validate_warm=("validate warm", 1.5, 1.2),
    )))
    return path


def row(page: str, label: str) -> list[str]:
    match = re.search(rf"<th scope=\"row\" markdown=\"span\">{re.escape(label)}</th>(.*?)</tr>", page)
    assert match, f"no row {label!r}"
    return re.findall(r"<td markdown=\"span\">(.*?)</td>", match[1])


def test_each_method_is_shown_with_its_ratio_to_the_floor(published):
    page = benchmark_results.benchmark_results(published)
    assert row(page, "validate real") == ["110.0 s", "1.10×", "80.0 s", "0.89×", "100 MB"]
    assert row(page, "the floor") == ["100.0 s", "1.00×", "90.0 s", "1.00×", "100 MB"]
    assert row(page, "validate preloaded") == ["30.0 s", "0.30×", "18.0 s", "0.20×", "100 MB"]
    assert row(page, "validate warm")[:3] == ["1.5 s", "", "1.2 s"]  # seconds against its own target, no ratio
    assert page.startswith("Measured 2026-12-03 16:05 UTC with `python benchmarks/run.py --repeat 1 --publish`: "
                           "runbooks alpha, beta on sqlite; one run of each method, on 2 cores (Test CPU), "
                           "load average 3.5 before and 4.25 after.\n\nMeasured for a test.\n")


def test_the_chart_has_a_text_alternative_with_every_value(published):
    page = benchmark_results.benchmark_results(published)
    svg = re.search(r"<figure><svg [^>]*>.*?</svg></figure>", page)[0]
    assert 'role="img"' in svg and 'aria-labelledby="benchmark-chart-title benchmark-chart-desc"' in svg
    assert '<title id="benchmark-chart-title">Time of each method as a multiple of the floor</title>' in svg
    desc = re.search(r'<desc id="benchmark-chart-desc">(.*?)</desc>', svg)[1]
    assert desc.endswith("validate real: 1.10×; the floor: 1.00×; validate preloaded: 0.30×.")
    assert "validate warm" not in svg  # not a ratio: the table has it
    # The bars are drawn to scale: the preloaded bar is 0.3 of the floor's.
    widths = {label: float(width) for label, width in re.findall(
        r'<text [^>]*text-anchor="end">([^<]+)</text><rect [^>]*width="([\d.]+)"', svg)}
    assert widths["validate preloaded"] == pytest.approx(0.3 * widths["the floor"], abs=0.1)
    assert widths["validate real"] == pytest.approx(1.1 * widths["the floor"], abs=0.1)


def test_without_committed_results_the_page_says_so(tmp_path):
    assert benchmark_results.benchmark_results(tmp_path / "none.json").startswith('!!! note "No benchmark results yet"')


def test_results_without_a_floor_stop_the_build(tmp_path):
    path = tmp_path / "last-results.json"
    path.write_text(json.dumps(results(nbmake=("nbmake", 10.0, 9.0))))
    with pytest.raises(ValueError, match="no floor measured"):
        benchmark_results.benchmark_results(path)


def test_a_chart_needs_a_bar():
    with pytest.raises(ValueError):
        benchmark_chart.ratio_chart([], title="t", description="d")
