"""Distillation from products: a teacher trained on a product's columns, a student distilled on labelled and
unlabelled products (a product without az gives columns the teacher labels)."""

import json

from kdssm.data.product_writer import write_product
from kdssm.geometry import PRESETS

from ..helpers import cli

MINI = PRESETS["mini"]
SIZES = ["--train_size", "128", "--val_size", "32", "--test_size", "32", "--num_epochs", "1", "--quiet"]


def test_teacher_and_student_from_labelled_and_unlabelled_products(tmp_path):
    labelled, bare = tmp_path / "labelled.zarr", tmp_path / "bare.zarr"
    write_product(labelled, MINI.geometry(), MINI.length, 4096, 64, seed=1, scale=20.0)
    write_product(bare, MINI.geometry(), MINI.length, 2048, 64, seed=2, scale=20.0, labelled=False)
    teacher = tmp_path / "teacher"
    model = ["--model_dim", "4", "--state_dim", "8", "--num_layers", "2"]
    assert cli(["train", "--products", str(labelled), *model, *SIZES, "--save_dir", str(teacher)]) == 0
    student = tmp_path / "student"
    products = f"{labelled},{bare}"
    args = ["--teacher_checkpoint", str(teacher), "--products", products, "--unlabelled_size", "64"]
    assert cli(["distill", *args, "--student_model_dim", "3", *SIZES, "--save_dir", str(student)]) == 0
    summary = json.loads((student / "summary.json").read_text())
    assert summary["kind"] == "student" and summary["test_columns"] == 32
    assert len(list((student / "teacher_cache").glob("*.pt"))) == 3  # train, val and the unlabelled columns
