import json
import math

import pytest
import torch

import kdssm
import kdssm.models
from kdssm.cli import main
from kdssm.config import RunConfig
from kdssm.data import simulate
from kdssm.metrics import valid_mask
from kdssm.train.module import warmup_cosine

from ..helpers import CONTRACT_KEYS, SMALL_SPLITS, TINY_TRAIN, flags, sets

TINY_ARGS = flags(
    **TINY_TRAIN | {"model_dim": 8, "state_dim": 32},
    train_size=512,
    **SMALL_SPLITS,
    batch_size=16,
    quiet=True,
    learning_rate=0.01,
    ssm_learning_rate=0.01,
)


def test_warmup_then_cosine():
    assert warmup_cosine(0, 100, 10) == pytest.approx(0.1)
    assert warmup_cosine(9, 100, 10) == pytest.approx(1.0)
    assert warmup_cosine(55, 100, 10) == pytest.approx(0.5)
    assert warmup_cosine(100, 100, 10) == pytest.approx(0.0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("train") / "teacher"
    assert main(["train", *TINY_ARGS, "--num_epochs", "2", "--save_dir", str(run)]) == 0
    return run


def test_train_writes_the_output_contract(trained):
    summary = json.loads((trained / "summary.json").read_text())
    assert set(summary) >= set(CONTRACT_KEYS)
    assert set(summary["matched_filter"]) >= set(CONTRACT_KEYS)
    assert summary["training"]["epochs"] == 2
    assert RunConfig.from_file(trained / "config.yaml").model.model_dim == 8
    model = kdssm.load_model(trained / "model.ckpt")
    x, y = simulate("mini", 32, 3)  # the test split of the run
    from kdssm import metrics

    with torch.no_grad():
        assert metrics.nmse_db(model(x), y) == pytest.approx(summary["nmse_db"], abs=1e-3)


def test_training_lowers_the_loss(trained):
    summary = json.loads((trained / "summary.json").read_text())
    assert summary["nmse_db"] < -3.0  # an untrained model sits at 0 dB or above


def test_finished_run_is_not_overwritten(trained, capsys):
    before = (trained / "model.ckpt").read_bytes()
    assert main(["train", *TINY_ARGS, "--num_epochs", "2", "--save_dir", str(trained)]) == 2
    assert "finished run; pass --overwrite" in capsys.readouterr().err
    assert (trained / "model.ckpt").read_bytes() == before


def test_unfinished_run_with_another_config_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *TINY_ARGS, "--num_epochs", "1", "--save_dir", str(run)]) == 0
    (run / "summary.json").unlink()  # as if killed before the end
    assert main(["train", *TINY_ARGS, "--num_epochs", "1", "--model_dim", "6", "--save_dir", str(run)]) == 2
    assert "model.model_dim: 8 -> 6" in capsys.readouterr().err
    stored = (run / "config.yaml").read_text()  # a run begun by a kdssm without a field of today's
    (run / "config.yaml").write_text(stored.replace("  teacher_bound: true\n", ""))
    assert main(["train", *TINY_ARGS, "--num_epochs", "1", "--save_dir", str(run)]) == 2
    assert "distillation.teacher_bound: not in the stored config (an older kdssm) -> True" in capsys.readouterr().err


def test_resume_continues_from_last_checkpoint(tmp_path):
    run = tmp_path / "run"
    assert main(["train", *TINY_ARGS, "--num_epochs", "1", "--save_dir", str(run)]) == 0
    # Pretend the run was killed after epoch 1 of 3: raise the epoch budget in its stored config.
    (run / "summary.json").unlink()
    cfg = RunConfig.from_file(run / "config.yaml")
    cfg.with_overrides({"training": {"num_epochs": 3}}).dump(run / "config.yaml")
    assert main(["train", *TINY_ARGS, "--num_epochs", "3", "--save_dir", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["training"]["epochs"] == 3
    assert sorted((run / "logs").glob("version_*")) == [run / "logs" / "version_0", run / "logs" / "version_1"]
    first = (run / "logs" / "version_0" / "metrics.csv").read_text().splitlines()
    resumed = (run / "logs" / "version_1" / "metrics.csv").read_text().splitlines()
    epoch_of = lambda lines: {row.split(",")[lines[0].split(",").index("epoch")] for row in lines[1:]} - {""}  # noqa: E731
    assert epoch_of(first) == {"0"} and epoch_of(resumed) == {"1", "2"}


def test_bad_data_file_is_a_one_line_error(tmp_path, capsys):
    import numpy as np

    bad = tmp_path / "cols.npz"
    np.savez(bad, x=np.zeros((4, 256, 2)), y=np.zeros((4, 256, 1), dtype=np.complex64))
    assert main(["train", *TINY_ARGS, "--train_npz", str(bad), "--save_dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "cols.npz: 'x' must be complex" in err


MINI_GEOMETRY = sets(
    wavelength_m=0.05546576,
    velocity_m_s=7100,
    prf_hz=600,
    antenna_length_m=40,
    slant_range_near_m=800000,
    slant_range_far_m=950000,
)  # the six geometry fields of the data section, as a user's own columns state them


def test_zero_epochs_scores_the_matched_filter_start(tmp_path):
    run = tmp_path / "init"
    assert main(["train", *TINY_ARGS, "--num_epochs", "0", "--save_dir", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["training"]["epochs"] == 0 and summary["init"]["used"] == "matched_filter"
    assert summary["init"]["fit_db"] < -40
    mf = summary["matched_filter"]
    assert abs(summary["nmse_db"] - mf["nmse_db"]) < 0.05 and abs(summary["nmse_valid_db"] - mf["nmse_valid_db"]) < 1.0
    assert not (run / "checkpoints").exists()
    assert RunConfig.from_file(run / "config.yaml").model.geometry["prf_hz"] == 600.0  # the preset's, recorded
    kdssm.load_model(run)


def _npz(tmp_path, n=48):
    import numpy as np

    x, y = simulate("mini", n, 21)
    path = tmp_path / "cols.npz"
    np.savez(path, x=x.numpy(), y=y.numpy())
    return str(path)


def _npz_flags(tmp_path) -> list[str]:
    """No epochs, every split from one .npz of simulated columns (no geometry in it)."""
    npz = _npz(tmp_path)
    return flags(num_epochs=0, train_npz=npz, val_npz=npz, test_npz=npz)


def test_npz_columns_without_geometry_start_random_with_one_warning(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *TINY_ARGS, *_npz_flags(tmp_path), "--save_dir", str(run)]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("kdssm:")]
    assert len(err) == 1 and "state no geometry" in err[0] and "random init" in err[0]
    assert json.loads((run / "summary.json").read_text())["init"]["used"] == "random"


def test_npz_columns_with_their_geometry_start_as_the_matched_filter(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *TINY_ARGS, *_npz_flags(tmp_path), *MINI_GEOMETRY, "--save_dir", str(run)]) == 0
    assert "warning" not in capsys.readouterr().err
    assert json.loads((run / "summary.json").read_text())["init"]["used"] == "matched_filter"


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["--init", "matched_filter", "--train_npz", "NPZ"],
            "model.init: matched_filter needs the acquisition geometry",
        ),
        (sets(prf_hz=-5), "data.prf_hz: must be > 0.0"),
        (sets(prf_hz=600), "data.wavelength_m: missing"),
        (["--init", "matched_filter", "--state_dim", "2", "--model_dim", "1"], "modes fit the reference function only"),
        (["--freeze_focus", "--init", "random"], "training.freeze_focus: the model did not start as the matched"),
        (["--freeze_focus", "--num_layers", "1", "--use_selectivity", "false"], "training.freeze_focus: the model has"),
    ],
)
def test_bad_geometry_or_init_is_one_line_and_writes_nothing(tmp_path, capsys, args, message):
    args = [_npz(tmp_path) if a == "NPZ" else a for a in args]
    run = tmp_path / "run"
    assert main(["train", *TINY_ARGS, "--num_epochs", "0", *args, "--save_dir", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not run.exists()


def test_progress_off_a_terminal_is_plain_lines(tmp_path, capsys):
    assert (
        main(
            [
                "train",
                *[a for a in TINY_ARGS if a != "--quiet"],
                "--num_epochs",
                "2",
                "--train_size",
                "64",
                "--save_dir",
                str(tmp_path / "run"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "\r" not in out and "[kdssm] epoch 1/2: val nmse -" in out and "[kdssm] epoch 2/2" in out
    assert "val nmse - dB" not in out  # each line carries its own epoch's figures


def test_selection_follows_the_configured_figure_and_records_the_best_epoch(tmp_path):
    import csv

    run = tmp_path / "run"
    assert main(["train", *TINY_ARGS, "--num_epochs", "3", "--select_on", "nmse_valid", "--save_dir", str(run)]) == 0
    training = json.loads((run / "summary.json").read_text())["training"]
    rows = [r for r in csv.DictReader(open(run / "logs" / "version_0" / "metrics.csv")) if r.get("val_nmse_valid_db")]
    best = min(rows, key=lambda r: float(r["val_nmse_valid_db"]))
    assert training["selected_on"] == "val_nmse_valid_db"
    assert training["best_value"] == pytest.approx(float(best["val_nmse_valid_db"]), abs=1e-5)
    assert training["best_epoch"] == int(best["epoch"])


def test_a_time_budget_plans_the_schedule_to_anneal_by_the_deadline():
    from kdssm.train.module import planned_steps

    assert planned_steps(1000, 100, 30.0, 0.0) == 1000  # no budget: every planned step
    assert planned_steps(1000, 100, 30.0, 2.0) == 400  # 4 epochs of 30 s fit in 2 minutes
    assert planned_steps(1000, 100, 30.0, 60.0) == 1000  # the budget outlasts the plan
    assert planned_steps(1000, 100, 500.0, 1.0) == 100  # at least the epoch already run


def test_a_replanned_span_anneals_the_learning_rate(tmp_path):
    from kdssm.config import TrainConfig
    from kdssm.train.module import GroundTruthModule

    module = GroundTruthModule(kdssm.models.SarSSM(model_dim=2, state_dim=4, num_layers=1), TrainConfig(), 100, "mini")
    sched = module.configure_optimizers()["lr_scheduler"]["scheduler"]
    module.schedule_steps = 20  # as on_train_epoch_end sets it under max_minutes
    for _ in range(20):
        sched.optimizer.step()
        sched.step()
    assert sched.get_last_lr()[0] == pytest.approx(0.0, abs=1e-9)


def test_a_time_budgeted_run_records_its_planned_span(tmp_path):
    run = tmp_path / "run"
    assert main(["train", *TINY_ARGS, "--num_epochs", "50", "--max_minutes", "0.005", "--save_dir", str(run)]) == 0
    training = json.loads((run / "summary.json").read_text())["training"]
    steps_per_epoch = 512 // 16
    assert training["schedule_steps"] % steps_per_epoch == 0 and training["schedule_steps"] < 50 * steps_per_epoch


def test_training_steps_log_only_on_the_steps_the_loggers_write(tmp_path, monkeypatch):
    """A self.log costs about 1 ms against a 20 ms step: values the loggers would drop are not logged."""
    import csv

    from kdssm.train.module import GroundTruthModule

    calls = []
    log = GroundTruthModule.log

    def counted(self, name, *args, **kwargs):
        calls.append(name)
        return log(self, name, *args, **kwargs)

    monkeypatch.setattr(GroundTruthModule, "log", counted)
    run = tmp_path / "run"
    assert main(["train", *TINY_ARGS, "--num_epochs", "2", "--save_dir", str(run)]) == 0
    rows = [r for r in csv.DictReader(open(run / "logs" / "version_0" / "metrics.csv")) if r.get("train_loss")]
    steps = 2 * 512 // 16
    assert len(rows) == steps // 10  # what the CSV logger writes, every 10th step
    assert calls.count("train_loss") == len(rows)  # before: one call per step (64)


def test_column_weight_adds_each_columns_own_nmse_to_the_loss_and_the_selection_objective():
    from kdssm.config import TrainConfig
    from kdssm.losses import column_normalised_mse
    from kdssm.train.module import GroundTruthModule, ValidationEnergy, objective_db

    x, y = simulate("mini", 4, seed=9, kind={"card": 0.5, "clutter_only": 0.5})  # (4, L, 2), (4, L, 1)
    y_hat = 0.8 * y
    y_hat[0] = 0  # one column lost
    plain = GroundTruthModule(torch.nn.Identity(), TrainConfig(valid_weight=0.0), 1, "mini")
    weighted = GroundTruthModule(torch.nn.Identity(), TrainConfig(valid_weight=0.0, column_weight=2.0), 1, "mini")
    extra = weighted.ground_truth_loss(y_hat, y, x) - plain.ground_truth_loss(y_hat, y, x)
    per_column = [1.0, 0.04, 0.04, 0.04]  # |0.2 y|^2 / |y|^2 = 0.04
    assert float(extra) == pytest.approx(2.0 * sum(per_column) / 4, rel=1e-5)
    assert float(column_normalised_mse(y_hat, y)) == pytest.approx(sum(per_column) / 4, rel=1e-5)
    energy = ValidationEnergy()
    energy.update(y_hat[:2], y[:2], x[:2], "mini")
    energy.update(y_hat[2:], y[2:], x[2:], "mini")  # two batches: the mean over every column of the split
    nmse, nmse_valid, column_nmse = energy.nmse()
    assert float(column_nmse) == pytest.approx(sum(per_column) / 4, rel=1e-5)
    with_columns = objective_db(nmse, nmse_valid, weighted.cfg, column_nmse)
    assert float(with_columns) == pytest.approx(10 * math.log10(float(nmse) + 2.0 * sum(per_column) / 4), rel=1e-5)


def test_a_frozen_focusing_path_keeps_the_valid_region_the_starts(tmp_path):
    """training.freeze_focus: the input projection, first layer and output projection stay as started, the gated
    layers learn, and with edge gates the valid region's output is the start's to the last bit."""
    start, run = tmp_path / "start", tmp_path / "run"
    common = [*TINY_ARGS, "--freeze_focus", "--seed", "3"]
    assert main(["train", *common, "--num_epochs", "0", "--save_dir", str(start)]) == 0
    assert main(["train", *common, "--num_epochs", "2", "--save_dir", str(run)]) == 0
    before, after = kdssm.load_model(start), kdssm.load_model(run)
    frozen = ("input_proj.", "layers.0.", "output_proj.")
    changed = set()
    for name, value in after.state_dict().items():
        if not torch.equal(value, before.state_dict()[name]):
            changed.add(name)
    assert changed and not any(name.startswith(frozen) for name in changed)
    assert any(name.startswith("layers.1.") for name in changed) and any(name.startswith("gates.") for name in changed)
    x, _ = simulate("mini", 16, seed=9)
    mask = valid_mask(x, "mini")  # (B, L) bool
    with torch.no_grad():
        assert torch.equal(after(x)[..., 0][mask], before(x)[..., 0][mask])
        assert not torch.equal(after(x), before(x))  # the edges learned
