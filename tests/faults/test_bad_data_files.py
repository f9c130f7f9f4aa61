"""Columns that break the data contract are refused before any training, naming file and array."""

import numpy as np
import pytest

from kdssm.cli import main

from ..helpers import SMALL_SPLITS, flags

ARGS = [
    "train",
    *flags(config="configs/demo/teacher.yaml", model_dim=4, state_dim=8, train_size=64, **SMALL_SPLITS, quiet=True),
]
GOOD_X = np.zeros((4, 256, 2), dtype=np.complex64)
GOOD_Y = np.zeros((4, 256, 1), dtype=np.complex64)


def _nan_x():
    x = GOOD_X.copy()
    x[0, 3, 0] = np.nan
    return x


CASES = {
    "real_x": (dict(x=GOOD_X.real, y=GOOD_Y), "'x' must be complex"),
    "nan_x": (dict(x=_nan_x(), y=GOOD_Y), "'x' contains NaN or Inf"),
    "inf_y": (dict(x=GOOD_X, y=np.full_like(GOOD_Y, np.inf)), "'y' contains NaN or Inf"),
    "wrong_channels": (dict(x=np.zeros((4, 256, 3), np.complex64), y=GOOD_Y), "'x' must have shape (N, L, 2)"),
    "wrong_length": (
        dict(x=np.zeros((4, 100, 2), np.complex64), y=np.zeros((4, 100, 1), np.complex64)),
        "columns have L = 100, the preset expects 256",
    ),
    "mismatched_n": (dict(x=GOOD_X, y=GOOD_Y[:2]), "differ in N or L"),
    "no_columns": (dict(x=GOOD_X[:0], y=GOOD_Y[:0]), "holds no columns"),
    "missing_y": (dict(x=GOOD_X), "missing array(s) y"),
    "position_out_of_range": (
        dict(x=GOOD_X + np.array([0, 2], np.complex64), y=GOOD_Y),
        "positional encoding x[..., 1] must lie in [0, 1]",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_columns_are_refused_before_training(tmp_path, capsys, case):
    arrays, message = CASES[case]
    path = tmp_path / "cols.npz"
    np.savez(path, **arrays)
    run = tmp_path / "run"
    assert main([*ARGS, "--train_npz", str(path), "--save_dir", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert "cols.npz" in err and message in err and "\n" not in err
    assert not run.exists()  # nothing written


@pytest.mark.parametrize(
    "content,message", [(b"", "not a readable .npz"), (b"PK\x03\x04broken", "not a readable .npz")]
)
def test_empty_or_broken_files(tmp_path, capsys, content, message):
    path = tmp_path / "cols.npz"
    path.write_bytes(content)
    assert main([*ARGS, "--train_npz", str(path), "--save_dir", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err


def test_missing_data_file(tmp_path, capsys):
    assert main([*ARGS, "--val_npz", str(tmp_path / "absent.npz"), "--save_dir", str(tmp_path / "run")]) == 2
    assert "absent.npz: data file not found" in capsys.readouterr().err
