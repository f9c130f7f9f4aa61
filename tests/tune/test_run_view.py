"""What a reviewer sees of each MLflow run: names by role and shape, a handful of student metrics, the
teacher's training read back from its folder."""

import json

from kdssm import tracking
from kdssm_tune import run_view

GATED = {"model_dim": 8, "state_dim": 32, "num_layers": 3, "use_selectivity": True, "gate_width": 4}
PLAIN = {"model_dim": 2, "state_dim": 16, "num_layers": 2, "use_selectivity": False, "gate_width": 4}


def test_names_say_role_and_shape():
    assert run_view.run_name("student", GATED, 1354) == "student 8/32/3 gate 4 · 1,354 p"
    assert run_view.run_name("teacher", PLAIN, 21636) == "teacher 2/16/2 · 21,636 p"
    assert run_view.logged_model_name("student", GATED, 1354) == "student-8-32-3-gate4-1354p"
    assert not set("/:.%\"'") & set(run_view.logged_model_name("teacher", PLAIN, 21636))  # MLflow refuses them


def test_a_student_run_keeps_its_own_figures_only():
    summary = {
        "kind": "student",
        "params": 290,
        "accuracy": 0.94,
        "nmse_valid_db": -30.7,
        "latency_vs_filter": 4.0,
        "validation": {"accuracy": 0.93, "nmse_db": -12.1, "nmse_valid_db": -30.3},
        "teacher": {"accuracy": 0.98, "params": 21636},
        "matched_filter": {"accuracy": 0.91},
        "init": {"fit_db": -22.0},
        "training": {"epochs": 8, "best_epoch": 7, "train_seconds": 23.3},
        "model": GATED,
    }
    got = run_view.run_metrics(summary)
    assert got == {
        "params": 290.0,
        "accuracy": 0.94,
        "nmse_valid_db": -30.7,
        "validation.accuracy": 0.93,
        "validation.nmse_valid_db": -30.3,
        "training.epochs": 8.0,
        "latency_vs_filter": 4.0,
    }
    assert len(run_view.SUMMARY_METRICS) + len(run_view.EPOCH_METRICS) <= run_view.MAX_RUN_METRICS == 20


def test_registry_tags_have_four_significant_digits():
    assert tracking.tag_value(0.9438047187758314) == "0.9438"
    assert tracking.tag_value(21636) == "21636" and tracking.tag_value(-34.09903664) == "-34.1"
    assert tracking.tag_value("x") == '"x"'


def test_teacher_curves_come_from_its_lightning_logs(tmp_path):
    for version, rows in (
        (0, "epoch,step,train_loss,val_accuracy\n,0,,\n0,9,0.5,\n0,9,,0.80\n1,19,0.4,\n1,19,,0.85\n"),
        (1, "epoch,step,train_loss,val_accuracy\n1,19,0.39,\n1,19,,0.86\n2,29,0.3,0.9\n"),  # resumed at epoch 1
    ):
        folder = tmp_path / "logs" / f"version_{version}"
        folder.mkdir(parents=True)
        (folder / "metrics.csv").write_text(rows)
    assert run_view.teacher_curves(tmp_path) == [
        (1, {"train_loss": 0.5, "val_accuracy": 0.80}),
        (2, {"train_loss": 0.39, "val_accuracy": 0.86}),
        (3, {"train_loss": 0.3, "val_accuracy": 0.9}),
    ]


def test_teacher_datasets_and_times(tmp_path):
    config = {"data": {"preset": "mini", "train_size": 4096, "val_size": 256, "train_seed": 1, "val_seed": 2}}
    train, val = run_view.teacher_datasets(config)
    assert (train["name"], train["context"], val["name"], val["context"]) == (
        "mini-train",
        "training",
        "mini-val",
        "validation",
    )
    assert json.loads(train["source"])["seed"] == 1 and json.loads(train["profile"])["columns"] == 4096
    assert train["digest"] != val["digest"] and train["digest"].startswith("settings-")
    (tmp_path / "model.ckpt").write_bytes(b"x")
    start, end = run_view.teacher_times(tmp_path, {"training": {"train_seconds": 171.0}})
    assert end - start == 171_000
    assert run_view.teacher_times(tmp_path, {}) == (None, None)


def test_a_trained_teachers_run_carries_its_training(tmp_path):
    """`kdssm train` (2 epochs), then the teacher's MLflow run as a sweep records it: per-epoch curves from
    its Lightning logs, the columns it was trained on, its real duration, its scores."""
    from mlflow.tracking import MlflowClient

    from kdssm.cli import main
    from kdssm_tune.records import record_teacher

    from ..train.test_runner import TINY_ARGS

    run = tmp_path / "teacher"
    assert main(["train", *TINY_ARGS, "--num_epochs", "2", "--save_dir", str(run)]) == 0
    tracker = tracking.SweepTracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "unit", tmp_path / "sweep")
    run_id, model_name = record_teacher(tracker, run / "model.ckpt", {"accuracy": 0.5, "validation": {}})
    assert record_teacher(tracker, run / "model.ckpt", {"accuracy": 0.5})[0] == run_id  # found again, not twice
    client = MlflowClient(tracker.uri)
    got = client.get_run(run_id)
    summary = json.loads((run / "summary.json").read_text())
    assert got.info.run_name == run_view.run_name("teacher", summary["model"], summary["params"])
    assert model_name == run_view.logged_model_name("teacher", summary["model"], summary["params"])
    for key in ("train_loss", "val_accuracy", "val_nmse_valid_db"):
        assert [m.step for m in client.get_metric_history(run_id, key)] == [1, 2], key
    assert {d.tags[0].value for d in got.inputs.dataset_inputs} == {"training", "validation"}
    seconds = (got.info.end_time - got.info.start_time) / 1000
    assert abs(seconds - summary["training"]["train_seconds"]) < 1.0  # its training, not the recording
    assert got.data.metrics["accuracy"] == 0.5 and got.data.metrics["params"] == summary["params"]
    assert len(got.data.metrics) <= run_view.MAX_RUN_METRICS + len(run_view.TEACHER_CURVES)


def test_review_lines_never_print_a_password(tmp_path):
    from kdssm_tune.records import RUNS_VIEW, review_lines

    assert review_lines(tmp_path) == []  # no records: nothing to open
    view = RUNS_VIEW.format(id="7")
    (tmp_path / "mlflow.json").write_text(
        json.dumps({"tracking_uri": "http://u:s3cr3t@mlflow.lab:5000", "runs_view": view})
    )
    (line,) = review_lines(tmp_path)  # no optuna.db here: no dashboard line
    assert line == f"MLflow: http://***@mlflow.lab:5000/{view}" and "s3cr3t" not in line
