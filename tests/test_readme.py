"""The README opens with the two commands, and CI runs the second one verbatim."""

import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_readme_starts_with_two_commands_and_ci_runs_the_second():
    lines = (ROOT / "README.md").read_text().splitlines()
    block = lines[lines.index("```bash") + 1 :]
    demo, tests = block[0], block[1]
    assert block[2] == "```"
    assert demo.endswith("kdssm demo") and "torch==2.13.0" in demo
    assert "pytest" in tests and "torch==2.13.0" in tests
    assert tests.index("ruff check .") < tests.index("ruff format --check .") < tests.index("pytest")  # lint first
    assert demo.index("torch==2.13.0") < demo.index("pip install -e")  # torch first: no CUDA build
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in ci
