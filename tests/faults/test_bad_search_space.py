"""A sweep that cannot run as configured: one line naming the problem, exit 2, before any trial starts."""

import pytest
import yaml

from kdssm.cli import main

CASES = {
    "inverted_range": (
        {"space": {"num_layers": {"low": 3, "high": 1}}},
        "search.space.num_layers: empty or inverted range (low 3 >= high 1)",
    ),
    "empty_range": (
        {"space": {"temperature": {"low": 2.0, "high": 2.0}}},
        "search.space.temperature: empty or inverted range",
    ),
    "unknown_parameter": ({"space": {"width": {"choices": [4]}}}, "search.space.width: unknown parameter"),
    "empty_choices": (
        {"space": {"model_dim": {"choices": []}}},
        "search.space.model_dim.choices: expected a non-empty list",
    ),
    "odd_state_dim": ({"space": {"state_dim": {"choices": [16, 33]}}}, "search.space.state_dim: must be even, got 33"),
    "empty_space": ({"space": {}}, "search.space: empty"),
    "range_without_high": ({"space": {"alpha": {"low": 0.1}}}, "search.space.alpha: a range needs both low and high"),
    "unknown_sampler": ({"sampler": "grid"}, "search.sampler: 'grid' is not one of nsga2, tpe, random"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_search_section(tmp_path, teacher_run, capsys, case):
    search, message = CASES[case]
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump({"search": search}))
    run = tmp_path / "sweep"
    assert (
        main(["sweep", "--teacher_checkpoint", str(teacher_run), "--config", str(config), "--save_dir", str(run)]) == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"kdssm: error: {config}") or err.startswith("kdssm: error: ")
    assert message in err and "\n" not in err, err
    assert not run.exists()


def sweep_into(teacher_run, run, *more: str) -> int:
    return main(["sweep", "--teacher_checkpoint", str(teacher_run), "--save_dir", str(run), *more])


def test_unreachable_tracking_server(tmp_path, teacher_run, capsys):
    run = tmp_path / "sweep"
    assert sweep_into(teacher_run, run, "--smoke-test", "--preset", "mini", "--tracking_uri", "http://127.0.0.1:9") == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "kdssm: error: tracking.tracking_uri http://127.0.0.1:9: "
        "no MLflow server answers (Connection error, 5 s timeout)"
    ), err
    assert not run.exists()


def test_credentials_in_the_tracking_uri_are_refused(tmp_path, teacher_run, capsys):
    run = tmp_path / "sweep"
    assert sweep_into(teacher_run, run, "--tracking_uri", "http://alice:secret@127.0.0.1:5000") == 2
    err = capsys.readouterr().err
    assert "holds credentials" in err and "secret" not in err
    assert not run.exists()
