"""Is distillation worth it, with error bars? A protocol: arms x label counts x seeds, paired bootstrap.

    python benchmarks/distill_gain.py --teacher RUN [--student configs/demo/student.yaml]
        [--labels 16 64 256 1024] [--seeds 0 1 2] [--unlabelled 4096] [--epochs 10]
        [--arms twin distilled self_training full_labels full_converged teacher_start full_labels_start]
        [--temperatures 2.5]
        [--init_layers 0 3 4]
        [--alpha 0.5 --beta 0.5 --gamma 0 --preserve_distribution] [--curriculum 0] [--name distill_gain]
        [--tracking_uri URI [--experiment kdssm-distill-protocol]] [--runs DIR]

For each label count L and seed s (training.seed: the initialisation and the order; the columns are the
same for every seed), the student of --student is trained as
- twin: on the L labelled columns alone, for as many optimiser steps as the distilled arm takes;
- distilled (one arm per --temperatures value, each compared with the first): L labelled + U unlabelled
  columns, the teacher labels all;
- self_training: the same, the twin of the same L and seed labelling them instead of the teacher (so the
  control has the same inputs, steps and loss, and only the labeller differs);
- full_labels: L + U columns with their true labels, the same steps;
- full_converged: the same columns for --converged_epochs, the best epoch on validation;
- teacher_start (with --init_layers): the twin started from the teacher's layers, ground truth only, so
  what the copied weights give alone is told from what the teacher's labels add;
- full_labels_start (with --init_layers): full_labels started from the teacher's layers: a perfect teacher
  from the distilled arm's own start, at its steps. What it closes of the twin-to-teacher gap bounds what
  any teacher can close there (rho "full_labels_start_of_teacher"), and the distilled arm's share of the gap
  to it is rho "<arm>_of_full_labels_start".
With --init_layers the distilled arms start from those teacher layers (distillation.init_layers,
kdssm/distill/layer_init.py): the student is the teacher with the other layers left out.
Every run is scored on the test split per column; the arms' nmse (averaged over seeds) and every difference
come with a 95 % paired bootstrap interval over test columns and seeds (distill_stats.py), and the share of
the gap closed rho = (twin - distilled) / (twin - full_labels) with its interval, and the share of the
twin-to-teacher gap, (twin - distilled) / (twin - teacher), with its interval (rho "<arm>_of_teacher").
The teacher's own score and the matched filter's are recorded beside them. The recipe (--alpha --beta
--gamma --preserve_distribution, --curriculum) replaces the student config's distillation weights; by
default the ground truth and the teacher's labels alone, the terms that measurably transfer. The losses
treat the teacher's labels as the twin's (kdssm.distill.module.teacher_label_loss), so the arms differ by
their labels only.

With --runs DIR every arm's run folder is kept in DIR under a name keyed by its content (arm, label count,
seed, and a hash of its config and its teacher's checkpoint): a finished run is scored again, not retrained,
and an unfinished one resumes from its last checkpoint (kdssm.train.rundir). So an interrupted protocol goes
on where it stopped, and seeds run in separate processes into one DIR are then summarised together by one
call with every seed (paired intervals over all of them). A kept run is reused or resumed only by the kdssm
code that started it (a hash of kdssm's source in the folder); other code is refused in one line. Without
--runs the runs live in a temporary folder.

With --tracking_uri the finished protocol is one MLflow experiment: a parent run (the settings, the
teacher's and the filter's scores, the JSON and the table as artifacts) and a child run per label count and
arm (its nmse, per seed, and its differences and rho with their intervals).

Writes benchmarks/results/<name>.json after each label count (a stopped run keeps what finished, marked
"complete": false). Acceptance (issue 33): at 64 labels rho >= 0.75 with the interval's lower end above 0.5,
at 256 rho >= 0.5 with its lower end above 0; distilled beats self-training at 64 labels by >= 0.5 dB with
the interval below 0. A bad request (a label count above the training split, seeds that repeat, an arm that
does not exist) is one line and nothing is written.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_recipe_args, recipe, write_result
from distill_stats import column_energy, column_errors, gap_closed, nmse_db, paired_difference

import kdssm
from kdssm import load_model
from kdssm.config import ConfigError, RunConfig
from kdssm.data.baseline import matched_filter
from kdssm.data.datasets import load_split, with_column_geometry
from kdssm.distill.layer_init import copied_state
from kdssm.distill.runner import distill_run
from kdssm.distill.teacher_cache import file_sha256
from kdssm.evaluate import predict
from kdssm.models import build_model
from kdssm.tracking.uri import check_reachable
from kdssm.train.folder_lock import FolderInUse
from kdssm.train.rundir import RunDirError
from kdssm.train.runner import train_run

ROOT = Path(__file__).resolve().parents[1]
SOURCE_STAMP = "kdssm_source.sha256"  # in each kept run folder: the kdssm code that trained it
ARMS = ("twin", "distilled", "self_training", "full_labels", "full_converged", "teacher_start", "full_labels_start")
STARTED = ("teacher_start", "full_labels_start")  # the arms that start from the teacher's layers: --init_layers


class RequestError(ValueError):
    """A request the protocol cannot run; the message is the one line the user sees."""


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teacher", required=True, help="the teacher's run folder")
    parser.add_argument("--student", default=str(ROOT / "configs/demo/student.yaml"), help="the student's run config")
    parser.add_argument("--labels", type=int, nargs="+", default=[16, 64, 256, 1024], help="labelled column counts")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds, one run each")
    parser.add_argument("--unlabelled", type=int, default=4096, help="unlabelled columns U")
    parser.add_argument("--epochs", type=int, default=10, help="epochs of the distilled arm over L + U columns")
    parser.add_argument("--converged_epochs", type=int, default=40, help="epochs of full_converged (best on val)")
    started = " and ".join(STARTED)
    parser.add_argument(
        "--arms", nargs="+", help=f"arms to run, of {', '.join(ARMS)} (default: all; {started} with --init_layers)"
    )
    parser.add_argument("--temperatures", type=float, nargs="+", default=[2.5], help="one distilled arm each")
    parser.add_argument(
        "--init_layers", type=int, nargs="+", default=[], help="the teacher layer each student layer starts from"
    )
    add_recipe_args(parser)
    parser.add_argument("--curriculum", type=int, default=0, help="student-only epochs first")
    parser.add_argument("--bootstrap", type=int, default=2000, help="bootstrap replicates")
    parser.add_argument("--name", default="distill_gain", help="benchmarks/results/<name>.json")
    parser.add_argument("--tracking_uri", help="log the finished protocol to this MLflow tracking URI")
    parser.add_argument("--experiment", default="kdssm-distill-protocol", help="the MLflow experiment")
    parser.add_argument("--runs", help="keep the arms' run folders here, reuse finished ones, resume unfinished ones")
    args = parser.parse_args(argv)
    if args.arms is None:
        args.arms = [a for a in ARMS if a not in STARTED or args.init_layers]
    return args


def check(args: argparse.Namespace, base: RunConfig) -> None:
    """Everything a run could refuse, before anything runs or is written."""
    unknown = [a for a in args.arms if a not in ARMS]
    if unknown:
        raise RequestError(f"--arms: no arm named {unknown[0]!r} (choose from {', '.join(ARMS)})")
    if len(set(args.seeds)) != len(args.seeds):
        raise RequestError(f"--seeds: {args.seeds} repeats a seed; each seed is one run of every arm")
    if len(set(args.temperatures)) != len(args.temperatures):
        raise RequestError(f"--temperatures: {args.temperatures} repeats a value")
    for t in args.temperatures:  # each distilled arm's config checked by the config's own bounds, before any arm runs
        try:
            base.with_overrides({"distillation": {"temperature": t}})
        except ConfigError as err:
            raise RequestError(f"--temperatures: {t:g} is refused ({err})") from None
    split = base.data.train_size
    above = [n for n in args.labels if n < 1 or n > split]
    if above:
        raise RequestError(f"--labels: {above[0]} is outside 1..{split}, the student config's training split")
    if not (Path(args.teacher) / "model.ckpt").is_file():
        raise RequestError(f"--teacher: {args.teacher} holds no model.ckpt")
    started = [a for a in args.arms if a in STARTED]
    if started and not args.init_layers:
        raise RequestError(f"--arms: {started[0]} needs --init_layers (the teacher layers it starts from)")
    if args.init_layers:  # every copied tensor checked against the teacher before any arm runs
        try:
            start = base.with_overrides({"distillation": {"init_layers": args.init_layers}})
            student = build_model(with_column_geometry(start, quiet=True).model)
            copied_state(student, load_model(args.teacher), args.init_layers)
        except ConfigError as err:
            raise RequestError(f"--init_layers: {err}") from None
    if args.runs and Path(args.runs).exists() and not Path(args.runs).is_dir():
        raise RequestError(f"--runs: {args.runs} exists and is not a directory")
    if args.tracking_uri:
        check_reachable(args.tracking_uri, key="--tracking_uri")


def fixed(base: RunConfig, seed: int, data: dict, epochs: int, distillation: dict | None = None, stop=False):
    """base for exactly `epochs` epochs (no wall clock; early stopping only where asked) at `seed`."""
    training = {
        "num_epochs": epochs,
        "max_minutes": 0.0,
        "early_stopping_patience": base.training.early_stopping_patience if stop else 100000,
        "seed": seed,
    }
    return base.with_overrides({"data": data, "training": training, "distillation": distillation or {}})


class Scorer:
    """Each run's per-column test errors (distill_stats.column_errors) on one fixed test split."""

    def __init__(self, base: RunConfig):
        split = load_split(base.data, "test")
        self.x, self.y = split.x, split.y
        self.energy = column_energy(self.y.numpy())
        self.filter = column_errors(matched_filter(self.x, base.data.preset).numpy(), self.y.numpy())[0]

    def errors(self, run: Path) -> np.ndarray:
        model = load_model(run)
        return column_errors(predict(model, self.x).numpy(), self.y.numpy())[0]


@functools.cache
def source_digest() -> str:
    """sha256 of kdssm's source files (read once per process: the code a process runs is the code it imported)."""
    root = Path(kdssm.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def trained(name: str, cfg: RunConfig, runs: Path, teacher: Path | None = None) -> Path:
    """The folder of `name`'s finished run of cfg (distilled from `teacher`'s model.ckpt, or on ground truth
    without one), trained unless a finished run of the same content is there; an unfinished one resumes.
    Either only with the kdssm code that started it (its SOURCE_STAMP), refused in one line otherwise."""
    content = json.dumps(cfg.to_dict(), sort_keys=True)
    if teacher is not None:
        content += file_sha256(teacher / "model.ckpt")
    out = runs / f"{name}-{hashlib.sha256(content.encode()).hexdigest()[:12]}"
    stamp = out / SOURCE_STAMP
    if not out.exists():  # stamped once, when the run's folder is made
        out.mkdir(parents=True)
        stamp.write_text(source_digest() + "\n")
    elif not stamp.is_file() or stamp.read_text().strip() != source_digest():
        raise RunDirError(f"{out}: was trained by other kdssm code than this; use another --runs folder")
    if not (out / "summary.json").is_file():
        if teacher is None:
            train_run(cfg, out, kind="student", progress=False)
        else:
            distill_run(cfg, teacher, out, progress=False)
    return out


def steps_of(columns: int, epochs: int, batch: int) -> int:
    return epochs * math.ceil(columns / batch)


def run_label_count(args, base, scorer, teacher: Path, tmp: Path, labels: int, shared: dict) -> dict:
    """Every arm at `labels` labelled columns, each seed; the per-column errors (seeds, n) by arm."""
    batch = base.training.batch_size
    total = labels + args.unlabelled
    steps = steps_of(total, args.epochs, batch)
    twin_epochs = math.ceil(steps / math.ceil(labels / batch))
    errors: dict[str, list] = {}
    for seed in args.seeds:
        twin_dir = None
        if "twin" in args.arms or "self_training" in args.arms:
            twin_cfg = fixed(base, seed, {"train_size": labels}, twin_epochs)
            twin_dir = trained(f"twin-{labels}-{seed}", twin_cfg, tmp)
            errors.setdefault("twin", []).append(scorer.errors(twin_dir))
        scarce = {"train_size": labels, "unlabelled_size": args.unlabelled}
        start = {"init_layers": args.init_layers}
        if "distilled" in args.arms:
            for t in args.temperatures:
                cfg = fixed(base, seed, scarce, args.epochs, {"temperature": t} | start)
                out = trained(f"kd-{labels}-{seed}-{t:g}", cfg, tmp, teacher)
                errors.setdefault(f"distilled_T{t:g}", []).append(scorer.errors(out))
        if "self_training" in args.arms:
            out = trained(f"self-{labels}-{seed}", fixed(base, seed, scarce, args.epochs), tmp, twin_dir)
            errors.setdefault("self_training", []).append(scorer.errors(out))
        ground_truth = {"alpha": 1.0, "beta": 0.0, "gamma": 0.0, "preserve_distribution": False} | start
        if "teacher_start" in args.arms:  # the twin's columns, steps and loss; the teacher only starts it
            cfg = fixed(base, seed, {"train_size": labels, "unlabelled_size": 0}, twin_epochs, ground_truth)
            out = trained(f"start-{labels}-{seed}", cfg, tmp, teacher)
            errors.setdefault("teacher_start", []).append(scorer.errors(out))
        for arm in ("full_labels", "full_converged", "full_labels_start"):
            if arm in args.arms:
                key = (arm, seed, total)
                if key not in shared:  # one run a seed and column count (label counts of one total share it)
                    epochs = args.converged_epochs if arm == "full_converged" else args.epochs
                    if arm == "full_labels_start":  # the distilled arm's start and steps, every label true
                        cfg = fixed(base, seed, {"train_size": total, "unlabelled_size": 0}, epochs, ground_truth)
                        run = trained(f"{arm}-{seed}-{total}", cfg, tmp, teacher)
                    else:
                        cfg = fixed(base, seed, {"train_size": total}, epochs, stop=arm == "full_converged")
                        run = trained(f"{arm}-{seed}-{total}", cfg, tmp)
                    shared[key] = scorer.errors(run)
                errors.setdefault(arm, []).append(shared[key])
    return {"steps": steps, "twin_epochs": twin_epochs, "errors": {k: np.stack(v) for k, v in errors.items()}}


def summarise(args, scorer: Scorer, found: dict, teacher: np.ndarray) -> dict:
    """Scores, differences and rho with their intervals for one label count; teacher (n,) its per-column errors."""
    e, energy, n = found["errors"], scorer.energy, args.bootstrap
    row = {
        "optimiser_steps": found["steps"],
        "twin_epochs": found["twin_epochs"],
        "nmse_db": {arm: nmse_db(err, energy) for arm, err in e.items()},
        "nmse_db_by_seed": {arm: [nmse_db(err[None, i], energy) for i in range(len(err))] for arm, err in e.items()},
    }
    differences, rho = {}, {}
    teacher_by_seed = np.tile(teacher, (len(args.seeds), 1))  # (seeds, n): the teacher is one run for every seed
    if "teacher_start" in e and "twin" in e:
        differences["teacher_start_minus_twin"] = paired_difference(e["teacher_start"], e["twin"], energy, n)
    if "full_labels_start" in e and "twin" in e:  # a perfect teacher from the distilled arm's start: the bound
        differences["full_labels_start_minus_twin"] = paired_difference(e["full_labels_start"], e["twin"], energy, n)
        rho["full_labels_start_of_teacher"] = gap_closed(e["twin"], e["full_labels_start"], teacher_by_seed, energy, n)
    distilled = [a for a in e if a.startswith("distilled")]
    for arm in distilled[1:]:  # every temperature against the first one given
        differences[f"{arm}_minus_{distilled[0]}"] = paired_difference(e[arm], e[distilled[0]], energy, n)
    for arm in distilled:
        for other in ("twin", "teacher_start", "self_training", "full_labels_start"):
            if other in e:
                differences[f"{arm}_minus_{other}"] = paired_difference(e[arm], e[other], energy, n)
        if "twin" not in e:
            continue
        shares = {arm: "full_labels", f"{arm}_of_converged": "full_converged"}  # rho against each reference arm
        shares[f"{arm}_of_full_labels_start"] = "full_labels_start"
        for key, reference in shares.items():
            if reference in e:
                rho[key] = gap_closed(e["twin"], e[arm], e[reference], energy, n)
        # the share of the twin-to-teacher gap (issue 33's demanding-regime figure)
        rho[f"{arm}_of_teacher"] = gap_closed(e["twin"], e[arm], teacher_by_seed, energy, n)
    return row | {"differences": differences, "rho": rho}


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def acceptance(rows: dict, temperature: float, teacher_db: float) -> dict:
    arm = f"distilled_T{temperature:g}"
    out = {}
    for labels, rho_min, low_min in (("64", 0.75, 0.5), ("256", 0.5, 0.0)):
        r = rows.get(labels, {}).get("rho", {}).get(arm)
        if r and r["rho"] is not None and r["interval"]:
            out[f"rho_at_{labels}"] = r["rho"] >= rho_min and r["interval"][0] > low_min
    r = rows.get("256", {}).get("rho", {}).get(f"{arm}_of_teacher")
    if r and r["rho"] is not None:  # the demanding regime's figure; meaningful where the teacher is 2 dB above
        out["closes_60_percent_of_the_teacher_gap_at_256"] = r["rho"] >= 0.6
    bound = rows.get("256", {}).get("rho", {}).get("full_labels_start_of_teacher")
    if bound and bound["rho"] is not None:  # what a perfect teacher gives from the same start and steps
        out["a_perfect_teacher_from_the_same_start_closes_60_percent_at_256"] = bound["rho"] >= 0.6
    full = rows.get("256", {}).get("nmse_db", {}).get("full_labels")
    if full is not None:  # the demanding regime itself: the teacher 2 dB above the student's own full-label result
        out["teacher_2_db_above_full_labels_at_256"] = teacher_db <= full - 2.0
    d = rows.get("64", {}).get("differences", {}).get(f"{arm}_minus_self_training")
    if d:
        out["beats_self_training_at_64_by_0_5_db"] = d["difference_db"] <= -0.5 and d["interval_db"][1] < 0
    return out


def table(record: dict) -> str:
    """The protocol's results as a Markdown table: every label count and arm."""
    lines = ["| labels | arm | nmse dB | vs twin dB [95 %] | rho [95 %] |", "|---|---|---|---|---|"]
    for labels, row in record["rows"].items():
        for arm, score in row["nmse_db"].items():
            d = row["differences"].get(f"{arm}_minus_twin")
            r = row["rho"].get(arm)
            versus = f"{d['difference_db']:+.2f} [{d['interval_db'][0]:+.2f}, {d['interval_db'][1]:+.2f}]" if d else ""
            share = f"{r['rho']:.2f} [{r['interval'][0]:.2f}, {r['interval'][1]:.2f}]" if r and r["interval"] else ""
            lines.append(f"| {labels} | {arm} | {score:.2f} | {versus} | {share} |")
    return "\n".join(lines) + "\n"


def log_to_mlflow(uri: str, experiment: str, record: dict, result: Path) -> str:
    """The finished protocol as one experiment: a parent run with the JSON and the table, a child run per
    label count and arm; returns the parent's run id."""
    from mlflow import MlflowClient

    from kdssm.tracking.tracker import ROLE, find_or_create_experiment, quiet_mlflow

    quiet_mlflow()
    client = MlflowClient(tracking_uri=uri)
    experiment_id = find_or_create_experiment(client, experiment, result.parent / "mlartifacts")
    parent = client.create_run(experiment_id, tags={ROLE: "distill_protocol"}, run_name=result.stem).info.run_id
    settings = ("teacher_dir", "labels", "seeds", "unlabelled", "epochs", "converged_epochs", "temperatures")
    settings += ("init_layers",)
    for key in settings:
        client.log_param(parent, key, record[key])
    for key, value in record["distillation"].items():
        client.log_param(parent, f"distillation.{key}", value)
    client.log_metric(parent, "teacher_nmse_db", record["teacher_nmse_db"])
    client.log_metric(parent, "matched_filter_nmse_db", record["matched_filter_nmse_db"])
    client.log_artifact(parent, str(result))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "table.md").write_text(table(record))
        client.log_artifact(parent, str(Path(tmp) / "table.md"))
    for labels, row in record["rows"].items():
        for arm, score in row["nmse_db"].items():
            tags = {"mlflow.parentRunId": parent, ROLE: "distill_arm", "kdssm.arm": arm, "kdssm.labels": labels}
            child = client.create_run(experiment_id, tags=tags, run_name=f"{arm} at {labels} labels").info.run_id
            client.log_metric(child, "nmse_db", score)
            for seed, value in zip(record["seeds"], row["nmse_db_by_seed"][arm]):
                client.log_metric(child, "nmse_db_by_seed", value, step=seed)
            for name, d in row["differences"].items():
                if name.startswith(f"{arm}_minus_"):
                    other = name.removeprefix(f"{arm}_minus_")
                    client.log_metric(child, f"minus_{other}_db", d["difference_db"])
                    client.log_metric(child, f"minus_{other}_low_db", d["interval_db"][0])
                    client.log_metric(child, f"minus_{other}_high_db", d["interval_db"][1])
            r = row["rho"].get(arm)
            if r and r["rho"] is not None:
                client.log_metric(child, "rho", r["rho"])
                if r["interval"]:
                    client.log_metric(child, "rho_low", r["interval"][0])
                    client.log_metric(child, "rho_high", r["interval"][1])
            client.set_terminated(child)
    client.set_terminated(parent)
    return parent


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        base = RunConfig.from_file(args.student)
        base = base.with_overrides({"distillation": recipe(args) | {"curriculum_epochs": args.curriculum}})
        check(args, base)
    except (RequestError, OSError, ValueError) as err:  # TrackingError and ConfigError are ValueErrors
        print(f"distill_gain: {err}", file=sys.stderr)
        return 2
    teacher = Path(args.teacher)
    scorer = Scorer(base)
    teacher_errors = scorer.errors(teacher)  # (n,)
    teacher_score = nmse_db(teacher_errors[None], scorer.energy)
    record = {
        "student": base.model.to_dict(),
        "config": {"training": base.training.to_dict()},  # the student's own: learning rates, batch
        "distillation": base.distillation.to_dict(),
        "teacher_dir": str(teacher),
        "teacher_nmse_db": teacher_score,
        "matched_filter_nmse_db": nmse_db(scorer.filter[None], scorer.energy),
        "test_columns": len(scorer.energy),
        "labels": args.labels,
        "seeds": args.seeds,
        "unlabelled": args.unlabelled,
        "epochs": args.epochs,
        "converged_epochs": args.converged_epochs,
        "temperatures": args.temperatures,
        "init_layers": args.init_layers,
        "bootstrap": args.bootstrap,
        "rows": {},
        "complete": False,
    }
    shared: dict = {}
    kept = contextlib.nullcontext(args.runs) if args.runs else tempfile.TemporaryDirectory()
    with kept as tmp:
        for labels in args.labels:
            try:
                found = run_label_count(args, base, scorer, teacher, Path(tmp), labels, shared)
            except (RunDirError, FolderInUse) as err:  # e.g. another process is training that seed into --runs
                print(f"distill_gain: {err}; the label counts before this one are kept", file=sys.stderr)
                return 2
            row = summarise(args, scorer, found, teacher_errors)
            record["rows"][str(labels)] = row
            scores = ", ".join(f"{arm} {v:.2f}" for arm, v in row["nmse_db"].items())
            rhos = ", ".join(f"rho {k} {rounded(r['rho'])}" for k, r in row["rho"].items())
            print(f"{labels} labels: {scores}; {rhos}", flush=True)
            record["acceptance"] = acceptance(record["rows"], args.temperatures[0], teacher_score)
            write_result(args.name, record)
    record["complete"] = True
    result = write_result(args.name, record)
    print(f"{record['acceptance']} -> {result}")
    if args.tracking_uri:
        run = log_to_mlflow(args.tracking_uri, args.experiment, record, result)
        print(f"MLflow: experiment {args.experiment}, run {run}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
