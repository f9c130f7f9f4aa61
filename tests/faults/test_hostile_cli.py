"""A hostile user's table: every subcommand handed bad values, bad files, outputs over its own inputs,
unusable tracking URIs. Each must answer with exit status 2 and one line naming the problem (no
traceback, no secret), and leave every file as it was (nothing written, nothing changed)."""

import os
import shlex
import sys

import pytest
import torch

from kdssm.checkpoint import save_model
from kdssm.cli import main

from ..helpers import cli, teacher_folder
from .helpers import ROOT, snapshot

# (what, command line: {W} a work folder, {T} a teacher run in it, {C} its model.ckpt, {S} a scene .npz,
# {R} a fresh run folder, {D} the demo sweep config), the one line's expected text
CASES = [
    ("train negative epochs", "train --num_epochs -1 --save_dir {R}", "training.num_epochs"),
    ("train zero batch", "train --batch_size 0 --save_dir {R}", "training.batch_size"),
    ("train nan lr", "train --learning_rate nan --save_dir {R}", "training.learning_rate"),
    ("train negative lr", "train --learning_rate -1 --save_dir {R}", "training.learning_rate"),
    ("train empty save_dir", "train --save_dir ", "expected a path"),
    ("train missing config", "train --config {W}/missing.yaml --save_dir {R}", "missing.yaml"),
    ("train broken yaml", "train --config {W}/broken.yaml --save_dir {R}", "broken.yaml"),
    ("train unknown key", "train --config {W}/unknown.yaml --save_dir {R}", "bogus"),
    ("train unknown preset", "train --preset nope --save_dir {R}", "nope"),
    ("train odd state", "train --state_dim 7 --save_dir {R}", "must be even"),
    ("train zero model dim", "train --model_dim 0 --save_dir {R}", "model.model_dim"),
    ("train dropout 2", "train --set model.dropout=2 --save_dir {R}", "model.dropout"),
    ("train save_dir a file", "train --save_dir {W}/note.txt", "not a directory"),
    ("train missing npz", "train --train_npz {W}/missing.npz --save_dir {R}", "missing.npz"),
    ("train garbage npz", "train --train_npz {W}/garbage.npz --save_dir {R}", "garbage.npz"),
    ("train zero workers", "train --num_workers 0 --save_dir {R}", "--num_workers"),
    ("train negative failures", "train --max_failures -1 --num_workers 1 --save_dir {R}", "--max_failures"),
    ("train zero cpus", "train --cpus_per_worker 0 --num_workers 1 --save_dir {R}", "--cpus_per_worker"),
    ("train unknown flag", "train --bogus 1", "unrecognized arguments"),
    ("train text epochs", "train --num_epochs x", "num_epochs"),
    ("train inf weight decay", "train --weight_decay inf --save_dir {R}", "training.weight_decay"),
    ("distill no teacher", "distill --save_dir {R}", "teacher"),
    ("distill absent teacher", "distill --teacher_checkpoint {W}/absent --save_dir {R}", "absent"),
    ("distill garbage teacher", "distill --teacher_checkpoint {W}/garbage.ckpt --save_dir {R}", "garbage.ckpt"),
    ("distill into the teacher", "distill --teacher_checkpoint {T} --save_dir {T} --overwrite", "holds the input"),
    (
        "distill zero student dim",
        "distill --teacher_checkpoint {T} --student_model_dim 0 --save_dir {R}",
        "model.model_dim",
    ),
    (
        "distill zero temperature",
        "distill --teacher_checkpoint {T} --temperature 0 --save_dir {R}",
        "distillation.temperature",
    ),
    ("distill negative alpha", "distill --teacher_checkpoint {T} --alpha -1 --save_dir {R}", "distillation.alpha"),
    ("distill unknown preset", "distill --teacher_checkpoint {T} --student_preset nope --save_dir {R}", "nope"),
    ("distill other geometry", "distill --teacher_checkpoint {T} --preset s1 --save_dir {R}", "s1"),
    ("distill nan teacher", "distill --teacher_checkpoint {W}/nan.ckpt --save_dir {R}", "NaN or Inf"),
    (
        "sweep zero samples",
        "sweep --config {D} --teacher_checkpoint {T} --num_samples 0 --save_dir {R}",
        "search.num_samples",
    ),
    (
        "sweep credentials",
        "sweep --config {D} --teacher_checkpoint {T} --tracking_uri http://u:s3cr3t@127.0.0.1:9 --save_dir {R}",
        "holds credentials",
    ),
    (
        "sweep unknown scheme",
        "sweep --config {D} --teacher_checkpoint {T} --tracking_uri foo://bar --save_dir {R}",
        "unsupported scheme",
    ),
    (
        "sweep bad registry name",
        "sweep --config {D} --teacher_checkpoint {T} --registered_model ../../evil/x --save_dir {R}",
        "tracking.registered_model",
    ),
    (
        "sweep into the teacher",
        "sweep --config {D} --teacher_checkpoint {T} --save_dir {T} --smoke-test",
        "holds the input",
    ),
    (
        "sweep into the teacher, before Ray",
        "sweep --config {D} --teacher_checkpoint {T} --save_dir {T} --address 127.0.0.1:1",
        "holds the input",  # the folder is refused before a cluster is reached
    ),
    (
        "sweep single point space",
        "sweep --config {D} --teacher_checkpoint {T} --set 'search.space={{model_dim: {{choices: [4]}}}}' "
        "--save_dir {R}",
        "search.space: holds a single configuration",
    ),
    (
        "sweep from teacher layers over varied widths",
        "sweep --config {D} --teacher_checkpoint {T} --init_layers 0,2 --save_dir {R}",
        "distillation.init_layers: the search space varies model.model_dim",
    ),
    (
        "sweep rung past the end",
        "sweep --config {D} --teacher_checkpoint {T} --set search.grace_epochs=50 --save_dir {R}",
        "search.grace_epochs",
    ),
    (
        "sweep unknown cost",
        "sweep --config {D} --teacher_checkpoint {T} --set search.cost_measure=flops --save_dir {R}",
        "search.cost_measure",
    ),
    (
        "sweep garbage teacher",
        "sweep --config {D} --teacher_checkpoint {W}/garbage.ckpt --save_dir {R}",
        "garbage.ckpt",
    ),
    ("pareto absent sweep", "pareto --save_dir {W}/none", "none"),
    ("pareto empty save_dir", "pareto --save_dir ", "expected a path"),
    ("evaluate absent", "evaluate {W}/absent", "absent"),
    ("evaluate zero columns", "evaluate {C} --num_columns 0", "--num_columns"),
    ("evaluate negative columns", "evaluate {C} --num_columns -3", "--num_columns"),
    ("evaluate huge columns", "evaluate {C} --num_columns 1000000000", "memory"),
    ("evaluate garbage npz", "evaluate {C} --npz {W}/garbage.npz", "garbage.npz"),
    ("evaluate garbage ckpt", "evaluate {W}/garbage.ckpt", "garbage.ckpt"),
    ("evaluate nan weights", "evaluate {W}/nan.ckpt", "NaN or Inf"),
    ("evaluate flipped bytes", "evaluate {W}/flipped.ckpt", "flipped.ckpt"),
    ("evaluate negative seed", "evaluate {C} --seed -1", "--seed"),
    ("compare absent run", "compare {W}/absent {C}", "absent"),
    ("plan zero batch", "plan configs/demo/teacher.yaml --batch_size 0", "training.batch_size"),
    ("plan negative minutes", "plan configs/demo/teacher.yaml --minutes -1", "--minutes"),
    ("plan nan minutes", "plan configs/demo/teacher.yaml --minutes nan", "--minutes"),
    ("focus onto its input", "focus {C} --input {S} --output {S} --overwrite", "holds the input"),
    ("focus onto a link to its input", "focus {C} --input {S} --output {W}/link.npz --overwrite", "holds the input"),
    ("focus unknown format", "focus {C} --input {S} --output {W}/o.txt", "o.txt"),
    ("focus absent input", "focus {C} --input {W}/absent.npz --output {W}/o.npz", "absent.npz"),
    ("focus into a missing folder", "focus {C} --input {S} --output {W}/nodir/o.npz", "does not exist"),
    ("focus zero batch", "focus {C} --input {S} --output {W}/o.npz --batch_columns 0", "--batch_columns"),
    ("focus negative tile", "focus {C} --input {S} --output {W}/o.npz --tile_length -1", "--tile_length"),
    ("focus registry without uri", "focus models:/x@y --input {S} --output {W}/o.npz", "--tracking_uri"),
    (
        "focus registry absent db",
        "focus models:/x@y --tracking_uri sqlite:///{W}/none.db --input {S} --output {W}/o.npz",
        "no MLflow database",
    ),
    (
        "focus registry credentials",
        "focus models:/x@y --tracking_uri http://u:s3cr3t@127.0.0.1:9 --input {S} --output {W}/o.npz",
        "holds credentials",
    ),
    (
        "focus registry unknown scheme",
        "focus models:/x@y --tracking_uri foo://bar --input {S} --output {W}/o.npz",
        "unsupported scheme",
    ),
    (
        "focus registry unreachable",
        "focus models:/x@y --tracking_uri http://127.0.0.1:9 --input {S} --output {W}/o.npz",
        "no MLflow server answers",
    ),
    ("focus unknown precision", "focus {C} --input {S} --output {W}/o.npz --precision fp8", "fp8"),
    ("focus nan weights", "focus {W}/nan.ckpt --input {S} --output {W}/o.npz", "NaN or Inf"),
    ("focus existing output", "focus {C} --input {S} --output {W}/note.npz", "exists"),
    ("focus zero actors", "focus {C} --input {S} --output {W}/o.npz --address local --num_actors 0", "--num_actors"),
    ("scene zero azimuth", "scene --azimuth 0 --output {W}/x.npz", "--azimuth"),
    ("scene negative range bins", "scene --range_bins -4 --output {W}/x.npz", "--range_bins"),
    ("scene too large", "scene --azimuth 10000000 --range_bins 10000000 --output {W}/x.npz", "memory"),
    ("scene unknown format", "scene --output {W}/x.txt", "x.txt"),
    ("scene over an existing file", "scene --output {S}", "exists"),
    ("scene unknown preset", "scene --preset nope --output {W}/x.npz", "nope"),
    ("scene negative seed", "scene --seed -1 --output {W}/x.npz", "--seed"),
    ("scene empty output", "scene --output ", "expected a path"),
    ("export negative length", "export {C} --format torchscript --out {W}/m.pt --length -7", "--length"),
    ("export huge length", "export {C} --format torchscript --out {W}/m.pt --length 1000000000", "lower --length"),
    ("export over the model", "export {C} --format torchscript --out {C}", "must end in .pt"),
    ("export unknown format", "export {C} --format nope --out {W}/m.pt", "nope"),
    ("export into a missing folder", "export {C} --format torchscript --out {W}/nodir/m.pt", "does not exist"),
    ("export wrong suffix", "export {C} --format exported-program --out {W}/m.pt", "must end in .pt2"),
    ("export nan weights", "export {W}/nan.ckpt --format torchscript --out {W}/m.pt", "NaN or Inf"),
    ("demo unknown preset", "demo --preset nope", "nope"),
    ("demo empty save_dir", "demo --save_dir ", "expected a path"),
    ("schema unknown flag", "schema --bogus", "unrecognized arguments"),
]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """The files the table points at: a tiny teacher, broken copies of it, a scene, odd configs."""
    w = tmp_path_factory.mktemp("hostile")
    teacher = w / "teacher"
    _, model = teacher_folder(
        teacher,
        {"model_dim": 4, "state_dim": 8, "num_layers": 2, "use_selectivity": True, "dropout": 0.0},
        {"preset": "mini", "train_size": 64, "val_size": 16, "test_size": 16},
    )
    with torch.no_grad():
        model.layers[0].conv.c.fill_(float("nan"))
    save_model(model, w / "nan.ckpt", "teacher")
    data = bytearray((teacher / "model.ckpt").read_bytes())
    weight = torch.load(teacher / "model.ckpt", weights_only=True)["state_dict"]["layers.0.conv.c"]
    start = bytes(data).find(weight.numpy().tobytes()[:32])
    data[start : start + 64] = bytes(b ^ 0xFF for b in data[start : start + 64])
    (w / "flipped.ckpt").write_bytes(bytes(data))
    (w / "broken.yaml").write_text("model: [unclosed\n")
    (w / "unknown.yaml").write_text("model:\n  bogus: 1\n")
    (w / "note.txt").write_text("x")
    (w / "note.npz").write_bytes(b"precious")
    (w / "garbage.npz").write_bytes(b"garbage")
    (w / "garbage.ckpt").write_bytes(b"garbage")
    assert main(["scene", "--azimuth", "256", "--range_bins", "16", "--output", str(w / "scene.npz")]) == 0
    os.symlink(w / "scene.npz", w / "link.npz")
    return w


def folders(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir())


@pytest.mark.parametrize("what, line, expected", CASES, ids=[c[0] for c in CASES])
def test_hostile_invocation_gets_one_line_and_changes_nothing(
    work, ray_local, capsys, monkeypatch, what, line, expected
):
    """ray_local: a case that gets as far as Ray uses the suite's one Ray, instead of leaving a 2-CPU one
    behind for the tests after it."""
    monkeypatch.chdir(ROOT)  # the table's configs/ paths, as a user in the checkout types them
    fields = {"W": work, "T": work / "teacher", "C": work / "teacher" / "model.ckpt", "S": work / "scene.npz"}
    fields.update(R=work / "run-of-this-case", D=ROOT / "configs" / "demo" / "sweep.yaml")
    argv = [arg.format(**fields) for arg in shlex.split(line)] + ([""] if line.endswith(" ") else [])
    before, dirs = snapshot(work), folders(work)
    capsys.readouterr()
    code = cli(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (code, err[-2000:])
    assert len(lines) == 1 and lines[0].startswith("kdssm: error: "), err[-2000:]
    assert expected in lines[0], lines[0]
    assert "s3cr3t" not in err
    assert snapshot(work) == before and folders(work) == dirs  # nothing written, nothing changed


def test_moasha_without_syne_tune_is_named_before_anything_is_written(work, capsys, monkeypatch):
    """syne-tune is optional (kdssm[moasha]); here it is installed, so it is made unimportable."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setitem(sys.modules, "syne_tune", None)  # what `import syne_tune` finds when it is absent
    run = work / "run-of-this-case"
    before, dirs = snapshot(work), folders(work)
    capsys.readouterr()
    config, teacher = ROOT / "configs" / "demo" / "sweep.yaml", work / "teacher"
    line = f"sweep --config {config} --teacher_checkpoint {teacher} --set search.early_stopping=moasha --save_dir {run}"
    code = cli(line.split())
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, lines
    assert "search.early_stopping: moasha needs syne-tune" in lines[0] and "kdssm[moasha]" in lines[0]
    assert snapshot(work) == before and folders(work) == dirs


def test_the_table_covers_every_subcommand():
    from kdssm.cli.main import build_parser

    commands = {line.split()[0] for _, line, _ in CASES}
    parser = build_parser()
    known = set(parser._subparsers._group_actions[0].choices)
    assert known <= commands, known - commands
    assert len(CASES) >= 60
