import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kdssm.cli import main
from kdssm.config import ConfigError, ModelConfig, RunConfig

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
CONFIGS = [
    "configs/teacher.yaml",
    "configs/student.yaml",
    "configs/demo/teacher.yaml",
    "configs/sweep.yaml",
    "configs/demo/student.yaml",
    "configs/demo/sweep.yaml",
    "configs/demo/deep_student.yaml",
    "configs/demo/deep_student_4.yaml",
    "configs/demo/deep_student_free.yaml",
]


@pytest.mark.parametrize("path", CONFIGS)
def test_shipped_configs_load_and_round_trip(path, tmp_path):
    cfg = RunConfig.from_file(path)
    cfg.dump(tmp_path / "c.yaml")
    assert RunConfig.from_file(tmp_path / "c.yaml") == cfg


@pytest.mark.parametrize(
    "variant, differs_in",
    [("deep_student_4", {"model": {"num_layers": 4}}), ("deep_student_free", {"training": {"freeze_focus": False}})],
)
def test_the_second_regimes_variants_differ_from_its_student_in_what_they_say(variant, differs_in):
    student = RunConfig.from_file(ROOT / "configs/demo/deep_student.yaml")
    assert RunConfig.from_file(ROOT / f"configs/demo/{variant}.yaml") == student.with_overrides(differs_in)
    assert student.with_overrides(differs_in) != student


def test_demo_sweep_students_are_students_of_the_demo_teacher():
    teacher, sweep = RunConfig.from_file(CONFIGS[2]), RunConfig.from_file(CONFIGS[5])
    assert sweep.data.preset == teacher.data.preset
    assert sweep.model.use_selectivity and teacher.model.use_selectivity  # gated students: the edges need it
    assert sweep.search.num_samples >= 8  # the demo's promise
    student = RunConfig.from_file(CONFIGS[4])
    assert {k: v for k, v in sweep.to_dict().items() if k not in ("search", "training")} == {
        k: v for k, v in student.to_dict().items() if k not in ("search", "training")
    }


def test_seed_sizes_in_the_seed_configs():
    teacher, student = RunConfig.from_file(CONFIGS[0]), RunConfig.from_file(CONFIGS[1])
    assert (teacher.model.model_dim, teacher.model.state_dim, teacher.model.num_layers) == (64, 540, 6)
    assert (student.model.model_dim, student.model.state_dim, student.model.num_layers) == (64, 540, 6)
    assert teacher.model.use_selectivity and student.model.use_selectivity  # gated standard: it can beat the filter
    assert teacher.data.preset == student.data.preset == "s1"


@pytest.mark.parametrize("path", ["configs/teacher.yaml", "configs/student.yaml", "configs/sweep.yaml"])
def test_the_seed_configs_carry_the_s1_recipe(path):
    """What the s1 demo measured (README, *s1*): frozen focusing path, edge gates, absolute levels, 6 grid
    points per aperture, the scene mix and the column term."""
    cfg = RunConfig.from_file(path)
    m, t = cfg.model, cfg.training
    assert m.use_selectivity and m.gate_region == "edges" and not m.scale_equivariant
    assert m.range_points_per_aperture == 6 and t.freeze_focus and t.column_weight > 0
    assert cfg.data.train_scenes and t.max_minutes == 0  # work fixed by epochs and columns


def test_the_s1_demo_configs_are_the_s1_recipe_at_cpu_size():
    teacher, sweep = (
        RunConfig.from_file("configs/demo/s1/teacher.yaml"),
        RunConfig.from_file("configs/demo/s1/sweep.yaml"),
    )
    assert teacher.data.preset == sweep.data.preset == "s1"
    for cfg in (teacher, sweep):
        assert cfg.training.freeze_focus and cfg.model.range_points_per_aperture == 6 and cfg.training.max_minutes == 0
    assert sweep.search.num_samples >= 8
    smallest = min(sweep.search.space["model_dim"]["choices"]) * sweep.model.state_dim // 2
    assert smallest >= 223  # every student can start as the s1 matched filter


GEOMETRY = {
    "wavelength_m": 0.0555,
    "velocity_m_s": 7100.0,
    "prf_hz": 600.0,
    "antenna_length_m": 40.0,
    "slant_range_near_m": 800e3,
    "slant_range_far_m": 950e3,
}


@pytest.mark.parametrize(
    "data,message",
    [
        ({"model": {"model_dimm": 3}}, "model.model_dimm: unknown key"),
        ({"modle": {}}, "modle: unknown section"),
        ({"model": {"model_dim": "big"}}, "model.model_dim: expected an integer"),
        ({"model": {"model_dim": 0}}, "model.model_dim: must be >= 1"),
        ({"model": {"state_dim": 7}}, "model.state_dim: must be even"),
        ({"model": {"activation": "relu6"}}, "model.activation: 'relu6' is not one of"),
        ({"data": {"preset": "s2"}}, "data.preset: 's2' is not one of mini, s1"),
        ({"data": {"train_seed": 2}}, "seeds must differ"),
        ({"training": {"num_epochs": -1}}, "training.num_epochs: must be >= 0"),
        ({"training": {"learning_rate": 0}}, "training.learning_rate: must be > 0"),
        ({"distillation": {"temperature": -1}}, "distillation.temperature: must be > 0"),
        ({"distillation": {"alpha": -0.1}}, "distillation.alpha: must be >= 0"),
        ({"training": {"use_gpu": True}}, "training.use_gpu: unknown key"),
        ({"model": {"use_selectivity": "yes"}}, "model.use_selectivity: expected true or false"),
        ({"model": 5}, "model: expected a mapping"),
        ({"model": {"gate_layers": "first"}}, "model.gate_layers: 'first' is not one of all, last, not_first"),
        ({"model": {"init": "pretrained"}}, "model.init: 'pretrained' is not one of auto, matched_filter, random"),
        ({"data": {"prf_hz": 600}}, "data.wavelength_m: missing"),
        ({"data": {**GEOMETRY, "prf_hz": -600}}, "data.prf_hz: must be > 0.0"),
        ({"data": {**GEOMETRY, "slant_range_near_m": 990e3}}, "data.slant_range_near_m: must be < slant_range_far_m"),
        ({"model": {"geometry": {**GEOMETRY, "swath": 1}}}, "model.geometry.swath: unknown key"),
        ({"model": {"geometry": {**GEOMETRY, "velocity_m_s": 0}}}, "model.geometry.velocity_m_s: must be > 0"),
        ({"model": {"geometry": [1, 2]}}, "model.geometry: expected a mapping"),
        ({"model": {"gate_region": "edges", "gate_layers": "all"}}, "model.gate_region: edges leaves the valid region"),
        ({"model": {"gate_region": "middle"}}, "model.gate_region: 'middle' is not one of all, edges"),
    ],
)
def test_validation_names_the_key(data, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        RunConfig.from_dict(data)


def test_model_config_numbers_must_be_finite():
    with pytest.raises(ConfigError, match="finite"):
        ModelConfig(dropout=float("nan"))


def test_cli_errors_are_one_line_with_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    assert main(["train", "--config", str(bad), "--save_dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kdssm: error:") and "malformed YAML" in err and "\n" not in err
    assert main(["train", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "config file not found" in capsys.readouterr().err
    assert main(["train", "--config", CONFIGS[2], "--state_dim", "9", "--save_dir", str(tmp_path / "r")]) == 2
    assert "model.state_dim: must be even" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # nothing written for a bad config


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5000) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
sections = st.dictionaries(
    st.sampled_from(["model", "data", "training", "distillation", "other"]),
    st.dictionaries(
        st.sampled_from(
            [
                "model_dim",
                "state_dim",
                "preset",
                "num_epochs",
                "alpha",
                "dropout",
                "unknown",
                "teacher_layers",
                "train_npz",
            ]
        ),
        yaml_values,
        max_size=3,
    ),
    max_size=3,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.one_of(sections, yaml_values), raw=st.text(max_size=40))
def test_random_yaml_never_escapes_as_a_traceback(tmp_path, doc, raw):
    for text in (yaml.safe_dump(doc), raw):
        path = tmp_path / "random.yaml"
        path.write_text(text)
        try:
            RunConfig.from_file(path)
        except ConfigError as err:
            assert "\n" not in str(err)


@pytest.mark.parametrize(
    "name", ["standard", "compressed", "tiny", "tiny16", "ultra", "standard_gated", "compressed_gated", "tiny_gated"]
)
def test_preset_files_agree_with_the_model_presets(name):
    from kdssm.models import MODEL_PRESETS

    model = yaml.safe_load(open(f"configs/presets/{name}.yaml"))["model"]
    assert model == MODEL_PRESETS[name]


@pytest.mark.parametrize(
    "command",
    [
        "train",
        "demo",
        "distill",
        "sweep",
        "pareto",
        "compare",
        "evaluate",
        "focus",
        "scene",
        "plan",
        "export",
        "schema",
    ],
)
def test_every_subcommand_has_working_help(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    assert "usage: kdssm" in capsys.readouterr().out


def test_unknown_flag_and_bad_flag_value_are_one_line(capsys):
    for argv in (["train", "--bogus", "1"], ["train", "--num_epochs", "x"], ["nope"]):
        with pytest.raises(SystemExit) as done:
            main(argv)
        assert done.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("kdssm: error:") and err.count("\n") == 1


def test_json_schema_accepts_the_shipped_configs_and_names_a_bad_key(tmp_path, capsys):
    import json

    import jsonschema

    assert main(["schema", "--out", str(tmp_path / "kdssm.schema.json")]) == 0
    schema = json.loads((tmp_path / "kdssm.schema.json").read_text())
    assert schema["additionalProperties"] is False and "model" in schema["properties"]
    for path in CONFIGS:
        jsonschema.validate(yaml.safe_load(open(path)), schema)
    bad = {"model": {"model_dimm": 3}}
    with pytest.raises(jsonschema.ValidationError, match="model_dimm"):
        jsonschema.validate(bad, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"data": {"preset": "s2"}}, schema)
    model = schema["$defs"]["ModelConfig"]["properties"]
    assert model["model_dim"]["minimum"] == 1 and "complex channels" in model["model_dim"]["description"]


@pytest.mark.parametrize("command", ["train", "distill", "sweep", "plan", "demo"])
def test_print_config_shows_the_resolved_run_config_and_runs_nothing(command, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written here
    argv = {
        "train": ["train", "--config", f"{ROOT}/configs/demo/teacher.yaml"],
        "distill": [
            "distill",
            "--teacher_checkpoint",
            "x.ckpt",
            "--student_config",
            f"{ROOT}/configs/demo/student.yaml",
        ],
        "sweep": ["sweep", "--teacher_checkpoint", "x.ckpt", "--smoke-test"],
        "plan": ["plan", f"{ROOT}/configs/demo/teacher.yaml"],
        "demo": ["demo"],
    }[command]
    assert main([*argv, "--model_dim", "6", "--print_config"]) == 0
    out = capsys.readouterr().out
    printed = yaml.safe_load(out.split("---")[0])
    assert printed["model"]["model_dim"] == 6  # the flag applied
    assert RunConfig.from_dict(printed).model.model_dim == 6  # what is printed loads back as a config
    if command == "sweep":
        assert printed["search"]["num_samples"] == 2  # --smoke-test applied
    assert list(tmp_path.iterdir()) == []


def test_print_config_of_a_command_without_a_run_config_prints_its_options(capsys):
    assert main(["evaluate", "m.ckpt", "--num_columns", "8", "--print_config"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == {
        "model": "m.ckpt",
        "tracking_uri": None,
        "preset": None,  # the preset of the model's geometry, read when it runs
        "npz": None,
        "num_columns": 8,
        "seed": 3,
        "scene_kind": "card",
    }


def test_version(capsys):
    import kdssm

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"kdssm {kdssm.__version__}"


def test_model_signature_is_visible_and_takes_a_config_with_overrides():
    import inspect

    from kdssm.models import SarSSM

    params = inspect.signature(SarSSM).parameters
    assert list(params)[:2] == ["config", "initialise"] and params["config"].default is None
    base = ModelConfig(model_dim=2, state_dim=8, num_layers=1, use_selectivity=False)
    model = SarSSM(base, num_layers=2, initialise=False)
    assert model.config == base.replace(num_layers=2) and len(model.layers) == 2
    assert SarSSM(base, initialise=False).config is base


@pytest.mark.parametrize("preset", ["mini", "s1"])
def test_demo_takes_the_configs_of_its_preset(capsys, preset):
    assert main(["demo", "--preset", preset, "--print_config"]) == 0
    teacher, sweep = yaml.safe_load_all(capsys.readouterr().out)
    assert teacher["data"]["preset"] == sweep["data"]["preset"] == preset
    assert teacher["training"]["max_minutes"] == 0 or preset == "mini"  # s1: work fixed by epochs and columns


def test_fields_that_held_one_value_are_gone_and_old_files_still_load():
    """The seed's YAML and older checkpoints carry input_dim, output_dim, complex_valued,
    use_positional_as_token and kernel with the one value each could hold: dropped on load; another
    value is a one-line error naming the key."""
    from kdssm.config import ConfigError, ModelConfig

    old = {"model_dim": 4, "input_dim": 2, "output_dim": 1, "complex_valued": True, "use_positional_as_token": False}
    assert ModelConfig.from_dict({**old, "kernel": "fast"}) == ModelConfig.from_dict({"model_dim": 4})
    assert not {"input_dim", "output_dim", "complex_valued", "use_positional_as_token", "kernel"} & set(
        ModelConfig.model_fields
    )
    with pytest.raises(ConfigError, match="model.use_positional_as_token"):
        ModelConfig.from_dict({"use_positional_as_token": True})


def test_numbers_in_exponent_form_are_numbers_in_files_and_in_set(tmp_path, capsys):
    """YAML 1.1 (PyYAML) reads `1e-4` as a string, which the strict fields refused; read as YAML 1.2 does."""
    path = tmp_path / "run.yaml"
    path.write_text("training:\n  learning_rate: 3e-4\n  ssm_learning_rate: 1.5E-4\n")
    training = RunConfig.from_file(path).training
    assert training.learning_rate == pytest.approx(3e-4) and training.ssm_learning_rate == pytest.approx(1.5e-4)
    argv = ["train", "--config", str(path), "--set", "training.learning_rate=2e-3", "--set", "model.dropout=.25"]
    assert main([*argv, "--set", "data.preset=1e5", "--print_config"]) == 2  # a string field still takes only text
    assert "data.preset" in capsys.readouterr().err
    assert main([*argv, "--print_config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out.split("---")[0])
    assert printed["training"]["learning_rate"] == pytest.approx(2e-3) and printed["model"]["dropout"] == 0.25
