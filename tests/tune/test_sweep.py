"""A 3-objective smoke sweep of 4 students on a local Ray (each trained inside its Tune trial), recorded on a
real MLflow server; checked through pareto.json, the Optuna study and MlflowClient."""

import json

import mlflow
import optuna
import pytest
import torch
from mlflow.tracking import MlflowClient

from kdssm import metrics
from kdssm.cli import main
from kdssm.config import RunConfig
from kdssm.data.datasets import load_split
from kdssm.deploy.source import checkpoint_path
from kdssm.tracking import to_pyfunc_input
from kdssm_tune import pareto, run_view
from kdssm_tune.sweep import run_sweep

from ..helpers import local_ray

SPACE = {
    "model_dim": {"choices": [2, 4]},
    "num_layers": {"low": 1, "high": 2},
    "temperature": {"low": 1.0, "high": 4.0},
}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, teacher_run, mlflow_server):
    local_ray()
    save_dir = tmp_path_factory.mktemp("sweep") / "sweep"
    cfg = RunConfig.from_file(teacher_run / "config.yaml").with_overrides(
        {
            "model": {"use_selectivity": False, "model_dim": 4, "state_dim": 8, "num_layers": 2, "dropout": 0.0},
            "data": {"unlabelled_size": 16},  # the teacher labels them for every trial
            "training": {"num_epochs": 3, "batch_size": 16, "max_minutes": 0},
            "distillation": {"curriculum_epochs": 1},
            "search": {
                "num_samples": 4,
                "grace_epochs": 1,
                "reduction_factor": 2,
                "space": SPACE,
                "latency_objective": True,
            },
            "tracking": {"tracking_uri": mlflow_server, "experiment": "smoke"},
        }
    )
    front = run_sweep(cfg, teacher_run, save_dir, progress=False)
    return save_dir, front, cfg, mlflow_server


@pytest.mark.slow
def test_sweep_writes_the_output_contract(sweep):
    save_dir, front, _, _ = sweep
    stored = json.loads((save_dir / "pareto.json").read_text())
    assert stored == json.loads(json.dumps(front))
    assert set(stored) >= {"teacher", "baseline", "hypervolume", "front"} and 0.0 <= stored["hypervolume"] <= 1.0
    assert stored["baseline"]["params"] == 0 and stored["baseline"]["name"] == "matched filter"
    summary = json.loads((save_dir / stored["front"][0]["checkpoint"]).with_name("summary.json").read_text())
    assert stored["baseline"]["accuracy"] == summary["matched_filter"]["accuracy"]  # the same test columns
    for entry in stored["front"]:
        assert set(entry) >= {"trial_id", "config", "metrics", "checkpoint", "beats_baseline"}
        assert entry["beats_baseline"] == (entry["metrics"]["accuracy"] > stored["baseline"]["accuracy"])
        assert (save_dir / entry["checkpoint"]).is_file()  # relative to pareto.json's folder
    assert (save_dir / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    assert len(list((save_dir / "tune" / "sweep").glob("run_trial_*"))) == 4
    assert not list((save_dir / "teacher_cache").glob("*.pt"))  # this cheap a teacher is run again on resume


@pytest.mark.slow
def test_front_is_chosen_on_validation_over_all_three_objectives(sweep):
    save_dir, front, _, _ = sweep
    assert front["selected_on"] == "validation" and front["objectives"] == ["accuracy", "params", "latency"]
    assert set(front["reference_point"]) == {"accuracy", "params", "latency"}
    entries = front["front"] + front["dominated"]
    points = [pareto.objectives(e["metrics"], front["teacher"], front["objectives"]) for e in entries]
    assert all(len(p) == 3 for p in points)
    on_front = [p for p, e in zip(points, entries) if e in front["front"]]
    assert front["hypervolume"] == pytest.approx(pareto.hypervolume(on_front)) and 0 < front["hypervolume"] <= 1
    assert 0 <= front["hypervolume_test"] <= 1
    for entry in entries:  # validation figures of the kept model beside its test figures
        summary = json.loads((save_dir / entry["checkpoint"]).with_name("summary.json").read_text())
        assert entry["metrics"]["val_accuracy"] == summary["validation"]["accuracy"]
        assert entry["metrics"]["accuracy"] == summary["accuracy"]
        assert "ray_run" not in summary["training"]  # single-worker trials train inside the Tune trial
        assert (save_dir / entry["checkpoint"]).with_name("history.jsonl").read_text().count("\n") >= 1
    registry = json.loads((save_dir / "registry.json").read_text())
    best = max(front["front"], key=lambda e: e["metrics"]["val_accuracy"])
    assert registry["aliases"]["best-accuracy"] == registry["versions"][best["trial_id"]]


@pytest.mark.slow
def test_optuna_study_names_its_objectives_and_keeps_stopped_trials_out(sweep):
    save_dir, front, _, uri = sweep
    study = optuna.load_study(study_name="kdssm", storage=f"sqlite:///{save_dir / 'optuna.db'}")
    assert study.metric_names == ["val_accuracy", "params", "latency_vs_matched_filter"]
    stopped = {
        e["trial_id"]
        for e in front["front"] + front["dominated"]
        if json.loads((save_dir / e["checkpoint"]).with_name("summary.json").read_text()).get("stopped_early")
    }
    assert all(t.state.is_finished() for t in study.trials)
    trained = [t for t in study.trials if "duplicate_of" not in t.user_attrs]  # duplicates were resampled
    assert len(trained) == 4 and len({t.user_attrs["tune_trial_id"] for t in trained}) == 4
    pruned = [t for t in trained if t.state == optuna.trial.TrialState.PRUNED]
    assert len(pruned) == len(stopped) and all(t.user_attrs.get("stopped_early") for t in pruned)
    assert all(len(t.values) == 3 for t in trained if t.state == optuna.trial.TrialState.COMPLETE)
    assert len({json.dumps(t.params, sort_keys=True) for t in trained}) == 4  # no configuration trained twice
    # each Optuna trial names its MLflow run, and that run names the Optuna trial back
    client = MlflowClient(uri)
    for t in trained:
        run = client.get_run(t.user_attrs["mlflow_run_id"])
        assert run.data.tags["optuna.trial_number"] == str(t.number)
        assert run.data.tags["kdssm.trial_id"] == t.user_attrs["tune_trial_id"]


@pytest.mark.slow
def test_mlflow_holds_parent_children_teacher_and_registry(sweep, tmp_path):
    save_dir, front, cfg, uri = sweep
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("smoke")
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"  # the UI opens on the runs
    runs = client.search_runs([exp.experiment_id], max_results=100)
    roles = {}
    for run in runs:
        roles.setdefault(run.data.tags.get("kdssm.role"), []).append(run)
    (parent,) = roles["sweep"]
    assert parent.info.status == "FINISHED"
    assert parent.info.run_name == f"sweep · 4 students, {len(front['front'])} on the front"
    for run in runs:  # provenance on every run: Source column, user, version
        assert run.data.tags["mlflow.source.name"].startswith("kdssm") and run.data.tags["kdssm.version"]
        assert run.data.tags["mlflow.user"]
    assert len(roles["trial"]) == 4 and len(roles["teacher"]) == 1
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in roles["trial"] + roles["teacher"])
    assert parent.data.metrics["hypervolume"] == pytest.approx(front["hypervolume"])
    curve = sorted(client.get_metric_history(parent.info.run_id, "hypervolume_so_far"), key=lambda m: m.step)
    assert [m.step for m in curve] == [1, 2, 3, 4]  # one step per finished student, drawn by the UI
    assert [m.value for m in curve] == sorted(m.value for m in curve)  # a front only grows
    assert curve[-1].value == pytest.approx(front["hypervolume"])
    for key in ("accuracy", "nmse_db", "nmse_valid_db", "latency_ms_per_column"):  # once, on the parent
        assert parent.data.metrics[f"matched_filter.{key}"] == pytest.approx(front["baseline"][key])
        assert parent.data.metrics[f"teacher.{key}"] == pytest.approx(front["teacher"][key])
    assert parent.data.metrics["front_beating_matched_filter"] == sum(e["beats_baseline"] for e in front["front"])
    limit = front["limit"]  # the genie's limit of the simulated test columns, and how far teacher and filter are
    assert parent.data.metrics["limit.nmse_db"] == pytest.approx(limit["nmse_db"])
    assert parent.data.metrics["teacher.from_limit_db"] == pytest.approx(front["teacher"]["nmse_db"] - limit["nmse_db"])
    assert (
        parent.data.tags["kdssm.from_limit"].startswith("teacher ")
        and "dB from the limit" in parent.data.tags["kdssm.from_limit"]
    )
    parent_files = {f.path for f in client.list_artifacts(parent.info.run_id)}
    assert {
        "pareto.json",
        "pareto.png",
        "hypervolume.png",
        "trials.json",
        "sweep.yaml",
        "comparison.md",
        "search_space.json",
    } <= parent_files
    client.download_artifacts(parent.info.run_id, "trials.json", str(tmp_path))
    table = json.loads((tmp_path / "trials.json").read_text())
    assert len(table["data"]) == 4 and {"trial_id", "on_front", "stopped_early", "val_accuracy", "accuracy"} <= set(
        table["columns"]
    )
    contexts = {d.tags[0].value for d in roles["trial"][0].inputs.dataset_inputs}
    assert contexts == {"training", "validation", "test", "unlabelled"}  # the Dataset column fills
    finished = [r for r in roles["trial"] if r.info.status == "FINISHED"]
    assert finished and all("accuracy" in r.data.metrics for r in finished)
    for run in finished:  # a handful of the student's own figures; the teacher's and filter's are the parent's
        assert len(run.data.metrics) <= run_view.MAX_RUN_METRICS, sorted(run.data.metrics)
        assert not any(k.startswith(("teacher.", "matched_filter.", "model.")) for k in run.data.metrics)
        summary = json.loads((save_dir / "trials" / run.data.tags["kdssm.trial_id"] / "summary.json").read_text())
        m = summary["model"]
        gate = f" gate {m['gate_width']}" if m["use_selectivity"] else ""
        shape = f"{m['model_dim']}/{m['state_dim']}/{m['num_layers']}{gate}"
        assert run.info.run_name == f"student {shape} · {summary['params']:,} p"
    (teacher_run,) = roles["teacher"]  # named, with the columns it was trained on (an untrained teacher
    # here: no curves; test_run_view.py records a trained one)
    assert teacher_run.info.run_name.startswith("teacher ") and teacher_run.info.run_name.endswith(" p")
    assert {d.tags[0].value for d in teacher_run.inputs.dataset_inputs} == {"training", "validation"}
    one = finished[0]
    history = client.get_metric_history(one.info.run_id, "val_nmse_db")
    assert [m.step for m in history] == list(range(1, len(history) + 1)) and len(history) >= 1
    assert "model_dim" in one.data.params
    files = {f.path for f in client.list_artifacts(one.info.run_id)}
    assert {"summary.json", "model.ckpt", "history.jsonl"} <= files
    # the registry: every front student, aliases, and a version that loads and reproduces its accuracy
    name = "smoke-students"
    versions = client.search_model_versions(f"name = '{name}'")
    assert len(versions) == len(front["front"])
    best = client.get_model_version_by_alias(name, "best-accuracy")
    client.get_model_version_by_alias(name, "smallest")
    # `kdssm focus models:/...` downloads through the server it is given, whatever the global URI says
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'elsewhere.db'}")
    ckpt = checkpoint_path(f"models:/{name}@best-accuracy", uri, str(tmp_path / "download"))
    trial_ckpts = {p.read_bytes() for p in (save_dir / "trials").glob("*/model.ckpt")}
    assert ckpt.read_bytes() in trial_ckpts
    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model(f"models:/{name}@best-accuracy")
    test = load_split(cfg.data, "test")
    y_hat = torch.view_as_complex(
        torch.as_tensor(model.predict(to_pyfunc_input(test.x))).reshape(*test.x.shape[:2], 1, 2)
    )  # (N, L, 1) complex64
    logged = client.get_run(best.run_id).data.metrics["accuracy"]
    assert metrics.accuracy(y_hat, test.y) == pytest.approx(logged, abs=1e-5)
    assert best.tags["accuracy"] == f"{logged:.4g}"  # tags at 4 significant digits
    # one latency per model: the run's latest figure, the version's tag and pareto.json say the same
    best_run = client.get_run(best.run_id)
    entry = next(e for e in front["front"] if e["trial_id"] == best_run.data.tags["kdssm.trial_id"])
    run_latency = best_run.data.metrics["latency_vs_filter"]
    assert run_latency == pytest.approx(entry["metrics"]["latency_vs_filter"], rel=1e-9)
    assert best.tags["latency_vs_filter"] == f"{run_latency:.4g}"
    assert best_run.data.metrics["macs_per_column"] == entry["metrics"]["macs_per_column"]
    assert type(model.unwrap_python_model().model).__name__ == "SarSSM"
    assert model.metadata.get_input_schema().inputs[0].shape == (-1, -1, 4)  # any number and length of columns
    (logged,) = client.search_logged_models([exp.experiment_id], filter_string=f"source_run_id = '{best.run_id}'")
    model_metrics = {m.key for m in logged.metrics}  # the UI sorts the versions by them
    assert {"accuracy", "validation.accuracy", "params"} <= model_metrics
    shape = best_run.info.run_name.removeprefix("student ").split(" · ")[0]  # "8/32/3 gate 4"
    params = int(best_run.data.metrics["params"])
    assert logged.name == f"student-{shape.replace('/', '-').replace(' gate ', '-gate')}-{params}p"
    assert json.loads(logged.tags["mlflow.modelVersions"]) == [{"name": name, "version": best.version}]
    for run in roles["trial"]:  # every student, on the front or not, has its logged model (the Model column)
        if run.info.status == "FINISHED":
            assert client.search_logged_models(
                [exp.experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'"
            )
    teacher = client.search_model_versions("name = 'smoke-teacher'")
    assert len(teacher) == 1 and teacher[0].run_id == roles["teacher"][0].info.run_id


@pytest.mark.slow
def test_the_sweep_says_how_to_open_its_records(sweep):
    """The runs view by name (MLflow 3's UI opens GenAI pages otherwise) and the study's dashboard."""
    from kdssm_tune.records import review_lines

    save_dir, _, _, uri = sweep
    info = json.loads((save_dir / "mlflow.json").read_text())
    experiment = MlflowClient(uri).get_experiment_by_name("smoke")
    assert info["experiment_id"] == experiment.experiment_id and info["tracking_uri"] == uri
    mlflow_line, study_line = review_lines(save_dir)
    view = f"{uri}/#/experiments/{experiment.experiment_id}/runs?workflowType=machine_learning&searchFilter="
    assert mlflow_line.startswith(f"MLflow: {view}tags.%60kdssm.role%60%20%21%3D%20%27sweep%27&orderByKey=")
    assert f"optuna-dashboard sqlite:///{(save_dir / 'optuna.db').resolve()}" in study_line


@pytest.mark.slow
def test_pareto_command_prints_the_front(sweep, capsys):
    save_dir, front, _, _ = sweep
    assert main(["pareto", "--save_dir", str(save_dir)]) == 0
    out = capsys.readouterr().out
    assert "teacher" in out and "matched filter" in out and f"{front['hypervolume']:.4f}" in out
    for entry in front["front"]:
        assert entry["trial_id"] in out


@pytest.mark.slow
def test_pareto_command_on_a_running_sweep_shows_the_front_so_far(sweep, tmp_path, capsys):
    save_dir, _front, _, _ = sweep
    running = tmp_path / "running"  # the sweep as it was before its end: trial folders, no pareto.json
    for name in ("sweep.yaml", "reference.json"):
        (running / name).parent.mkdir(parents=True, exist_ok=True)
        (running / name).write_bytes((save_dir / name).read_bytes())
    first = sorted((save_dir / "trials").glob("*/summary.json"))[0].parent
    (running / "trials" / first.name).mkdir(parents=True)
    for name in ("summary.json", "config.yaml", "model.ckpt"):
        (running / "trials" / first.name / name).write_bytes((first / name).read_bytes())
    assert main(["pareto", "--save_dir", str(running)]) == 0
    out = capsys.readouterr().out
    assert "the front of 1 of 4 students finished so far" in out and first.name in out
    assert not (running / "pareto.json").exists()
    assert main(["pareto", "--save_dir", str(tmp_path / "nothing")]) == 2
    assert "no pareto.json and no sweep in progress" in capsys.readouterr().err


@pytest.mark.slow
def test_zz_rerun_of_a_finished_sweep_logs_nothing_twice(sweep, teacher_run):
    """Runs last (it re-runs the sweep): the same command on the finished folder adds no metric twice."""
    save_dir, front, cfg, uri = sweep
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("smoke")

    def histories() -> dict:
        """Every run's history of its final figures (a logged model's own copy of a run figure included)."""
        out = {}
        for run in client.search_runs([exp.experiment_id], max_results=100):
            for key in ("accuracy", "hypervolume", "params"):
                out[run.info.run_id, key] = len(client.get_metric_history(run.info.run_id, key))
        return out

    before = histories()
    again = run_sweep(cfg, teacher_run, save_dir, progress=False)
    assert [e["trial_id"] for e in again["front"]] == [e["trial_id"] for e in front["front"]]
    runs = client.search_runs([exp.experiment_id], max_results=100)
    assert len(runs) == 6  # parent, teacher, 4 trials: none created again
    assert histories() == before  # nothing logged twice
    for run in runs:
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_nmse_db")]
        assert len(steps) == len(set(steps))
    assert len(client.search_model_versions("name = 'smoke-students'")) == len(front["front"])
