"""benchmarks/README.md is generated from the committed JSON: regenerated here, it must be the same page."""

import importlib.util
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _report():
    spec = importlib.util.spec_from_file_location("report", ROOT / "benchmarks" / "report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmarks_readme_is_the_json_rendered():
    assert (ROOT / "benchmarks" / "README.md").read_text() == _report().render()


def test_every_figure_of_a_result_is_on_the_page():
    report = _report()
    page = report.render()
    record = json.loads((ROOT / "benchmarks" / "results" / "tracking_outage.json").read_text())
    assert f"| `throughput_during_over_before` | {json.dumps(record['throughput_during_over_before'])} |" in page
    assert report.script_of("distill_gain_fewer").name == "distill_gain.py"
