"""`kdssm focus` end to end on real files: scenes and columns, .npz and Zarr, bad input, kills."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import zarr

from kdssm import metrics
from kdssm.cli import main
from kdssm.data import simulate
from kdssm.data.scene import simulate_scene

from ..helpers import cli
from .models import MINI, gated_student, linear_student, saved


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("focus")
    scene = simulate_scene(MINI, 700, 48, seed=4)
    np.savez(root / "scene.npz", raw=scene["raw"], slant_range_m=scene["slant_range_m"], preset="mini")
    group = zarr.open_group(str(root / "scene.zarr"), mode="w")
    group.create_array("raw", shape=scene["raw"].shape, dtype="complex64", chunks=(700, 16))[...] = scene["raw"]
    group.create_array("slant_range_m", shape=(48,), dtype="float64")[...] = scene["slant_range_m"]
    group.attrs.update(MINI.to_dict())
    x, y = simulate("mini", 20, seed=9)
    np.savez(root / "columns.npz", x=x.numpy())
    return {
        "root": root,
        "truth": scene["truth"],
        "student": saved(gated_student(), root / "student"),
        "linear": saved(linear_student(), root / "linear"),
        "x": x,
        "y": y,
    }


def _nmse_db(a: np.ndarray, b: np.ndarray) -> float:
    return metrics.nmse_db(torch.from_numpy(a), torch.from_numpy(b))


def _focus(*args) -> int:
    return cli(["focus", *map(str, args), "--quiet"])


def test_scene_npz_to_npz_with_the_matched_filter(files, tmp_path):
    out = tmp_path / "focused.npz"
    assert (
        _focus(
            files["linear"],
            "--input",
            files["root"] / "scene.npz",
            "--output",
            out,
            "--compare",
            "matched_filter",
            "--batch_columns",
            16,
        )
        == 0
    )
    got = np.load(out)
    assert got["focused"].shape == (700, 48) and got["focused"].dtype == np.complex64
    assert got["matched_filter"].shape == (700, 48)
    assert np.allclose(got["slant_range_m"], np.load(files["root"] / "scene.npz")["slant_range_m"])
    assert got["edge_samples"].min() == 41 and got["edge_samples"].max() == 49  # (Na - 1) / 2 across mini's swath
    assert float(got["prf_hz"]) == MINI.prf_hz
    # the untrained linear student starts as the matched filter: so must its focused scene be
    assert _nmse_db(got["focused"], got["matched_filter"]) < -35
    assert (tmp_path / "focused.png").stat().st_size > 10_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["focused.npz", "focused.png"]


def test_zarr_in_and_out_streams_the_same_result(files, tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.zarr"
    assert _focus(files["student"], "--input", files["root"] / "scene.npz", "--output", a) == 0
    assert _focus(files["student"], "--input", files["root"] / "scene.zarr", "--output", b, "--batch_columns", 16) == 0
    out = zarr.open_group(str(b), mode="r")
    assert np.array_equal(out["focused"][...], np.load(a)["focused"])
    assert out.attrs["precision"] == "fp32" and out["edge_samples"].shape == (48,)


def test_columns_in_columns_out(files, tmp_path):
    out = tmp_path / "cols.npz"
    assert _focus(files["student"], "--input", files["root"] / "columns.npz", "--output", out) == 0
    y_hat = np.load(out)["y_hat"]
    from kdssm import load_model

    want = load_model(files["student"])(files["x"]).detach().numpy()
    # fp32 rounding of two summation orders (the focus path's lean forward, the autograd one): 1e-6 of
    # the largest output (~460 here); a wrong kernel or gate is off by percents of the signal
    assert y_hat.shape == (20, 256, 1) and np.allclose(y_hat, want, atol=1e-6 * np.abs(want).max())


@pytest.mark.parametrize("precision", ["bf16", "int8-dynamic"])
def test_reduced_precision_focus_stays_close(files, tmp_path, precision):
    ref, out = tmp_path / "ref.npz", tmp_path / "low.npz"
    assert _focus(files["student"], "--input", files["root"] / "scene.npz", "--output", ref) == 0
    assert (
        _focus(files["student"], "--input", files["root"] / "scene.npz", "--output", out, "--precision", precision) == 0
    )
    change = _nmse_db(np.load(out)["focused"], np.load(ref)["focused"])
    assert -90 < change < -25


def _bad(files, tmp_path, name, **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "case, message",
    [
        ("real dtype", "raw has dtype float32, expected complex64"),
        ("nan", "raw holds NaN or Inf"),
        ("no ranges", "missing slant_range_m"),
        ("other geometry", "prf_hz = 1717 but the model was trained for 600"),
        ("outside swath", "lies outside the model's swath"),
        ("both", "holds both raw"),
    ],
)
def test_bad_scenes_get_one_line_and_nothing_written(files, tmp_path, capsys, case, message):
    raw = np.load(files["root"] / "scene.npz")["raw"][:, :8]
    ranges = np.linspace(800e3, 950e3, 8)
    arrays = {
        "real dtype": dict(raw=raw.real, slant_range_m=ranges),
        "nan": dict(raw=np.where(np.arange(8) == 3, np.nan, raw).astype(np.complex64), slant_range_m=ranges),
        "no ranges": dict(raw=raw),
        "other geometry": dict(raw=raw, slant_range_m=ranges, preset="s1"),
        "outside swath": dict(raw=raw, slant_range_m=ranges + 1e5),
        "both": dict(raw=raw, x=raw, slant_range_m=ranges),
    }[case]
    path = _bad(files, tmp_path, "bad.npz", **arrays)
    out = tmp_path / "out.npz"
    assert _focus(files["student"], "--input", path, "--output", out) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npz"]


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--tile_length", "100"], "--tile_length 100 must exceed twice the overlap (198 samples"),
        (["--batch_columns", "0"], "--batch_columns/--batch-columns: must be >= 1, got 0"),
        (["--address", "auto", "--num_actors", "0"], "--num_actors/--num-actors: must be >= 1, got 0"),
        (["--fold", "yes"], "--fold yes: cannot fold: its gates act on every sample (model.gate_region all)"),
    ],
)
def test_bad_focus_flags_get_one_line(files, tmp_path, capsys, flags, message):
    assert _focus(files["student"], "--input", files["root"] / "scene.npz", "--output", tmp_path / "o.npz", *flags) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []


def test_folded_focus_equals_whole_line_focusing(files, tmp_path, capsys):
    """An edge-gated student folded (auto picks it on 700-sample lines) gives the tiles' values (one tile
    here: the whole line), and says which path ran."""
    student = saved(gated_student(gate_layers="last", gate_region="edges"), tmp_path / "edges")
    folded, tiles = tmp_path / "folded.zarr", tmp_path / "tiles.npz"
    scene = files["root"] / "scene.npz"
    assert cli(["focus", student, "--input", str(scene), "--output", str(folded), "--batch_columns", "16"]) == 0
    assert "(fp32, folded: one spectrum per range" in capsys.readouterr().out
    assert _focus(student, "--input", scene, "--output", tiles, "--fold", "no") == 0
    got, want = zarr.open_group(str(folded), mode="r"), np.load(tiles)
    assert got.attrs["path"] == "folded" and str(want["path"]) == "tiles"
    change = np.linalg.norm(got["focused"][...] - want["focused"]) / np.linalg.norm(want["focused"])
    assert change < 1e-5


def test_a_fold_of_a_scene_shorter_than_an_aperture_is_one_line(files, tmp_path, capsys):
    student = saved(gated_student(gate_layers="last", gate_region="edges"), tmp_path / "edges")
    scene = np.load(files["root"] / "scene.npz")
    short = _bad(files, tmp_path, "short.npz", raw=scene["raw"][:60], slant_range_m=scene["slant_range_m"])
    assert _focus(student, "--input", short, "--output", tmp_path / "o.npz", "--fold", "yes") == 2
    err = capsys.readouterr().err
    assert "lines of 60 samples are shorter than one aperture (99 samples)" in err and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edges", "short.npz"]


def test_existing_output_is_kept_without_overwrite(files, tmp_path, capsys):
    out = tmp_path / "out.npz"
    out.write_bytes(b"precious")
    assert _focus(files["student"], "--input", files["root"] / "scene.npz", "--output", out) == 2
    assert "exists (pass --overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"precious"
    assert _focus(files["student"], "--input", files["root"] / "scene.npz", "--output", out, "--overwrite") == 0
    assert np.load(out)["focused"].shape == (700, 48)


def test_registry_alias_resolves_and_unknown_alias_is_one_line(files, tmp_path, capsys):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    logged = tmp_path / "logged"
    (logged / "artifacts").mkdir(parents=True)
    (logged / "artifacts" / "model.ckpt").write_bytes(open(os.path.join(files["student"], "model.ckpt"), "rb").read())
    client.create_registered_model("students")
    version = client.create_model_version("students", logged.as_uri())
    client.set_registered_model_alias("students", "best-accuracy", version.version)
    out = tmp_path / "reg.npz"
    assert (
        _focus(
            "models:/students@best-accuracy",
            "--tracking_uri",
            uri,
            "--input",
            files["root"] / "columns.npz",
            "--output",
            out,
        )
        == 0
    )
    assert np.load(out)["y_hat"].shape == (20, 256, 1)
    out_lines = capsys.readouterr().out
    assert f"models:/students@best-accuracy: version {version.version} of students" in out_lines
    assert "focused 20 columns" in out_lines  # one word for what was focused, as its progress said
    assert (
        _focus(
            "models:/students@nope",
            "--tracking_uri",
            uri,
            "--input",
            files["root"] / "columns.npz",
            "--output",
            tmp_path / "x.npz",
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "unknown alias or version of 'students' (aliases: best-accuracy)" in err and err.count("\n") == 1


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_focus_leaves_no_partial_output(files, tmp_path, sig):
    big = tmp_path / "big.npz"
    scene = simulate_scene(MINI, 2000, 2048, seed=1)
    np.savez(big, raw=scene["raw"], slant_range_m=scene["slant_range_m"])
    out = tmp_path / "big.zarr"
    cmd = [
        sys.executable,
        "-m",
        "kdssm.cli",
        "focus",
        files["student"],
        "--input",
        str(big),
        "--output",
        str(out),
        "--batch_columns",
        "8",
        "--quiet",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    partial = tmp_path / ".big.zarr.partial"
    deadline = time.time() + 120
    while not _chunks(partial) and time.time() < deadline:  # mid-scene: the first batches are written
        time.sleep(0.02)
    assert proc.poll() is None, "focus finished before it could be killed"
    proc.send_signal(sig)
    err = proc.communicate(timeout=60)[1]
    assert not out.exists()
    if sig == signal.SIGTERM:
        assert not partial.exists()  # cleaned up on the way out
        lines = [line for line in err.splitlines() if line.strip()]
        assert proc.returncode == 143 and lines == [
            "kdssm: interrupted (SIGTERM): the output was not written (its temporary is removed); "
            "run the same command again to resume"
        ], (proc.returncode, err[-2000:])
    assert subprocess.run(cmd, timeout=600).returncode == 0  # the same command completes afterwards
    assert zarr.open_group(str(out), mode="r")["focused"].shape == (2000, 2048)
    assert not partial.exists()


def _chunks(store) -> list:
    """Chunk files the zarr store under `store` holds for `focused` so far."""
    folder = store / "focused" / "c"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []


def test_simulated_scene_round_trip(files, tmp_path):
    """`kdssm scene` writes what `focus` reads; the focused scene scores against the truth beside it."""
    scene = tmp_path / "scene.zarr"
    assert main(["scene", "--preset", "mini", "--azimuth", "500", "--range_bins", "32", "--output", str(scene)]) == 0
    group = zarr.open_group(str(scene), mode="r")
    assert group["raw"].shape == (500, 32) and group["truth"].shape == (500, 32) and group.attrs["preset"] == "mini"
    out = tmp_path / "focused.npz"
    assert _focus(files["linear"], "--input", scene, "--output", out) == 0
    assert _nmse_db(np.load(out)["focused"], group["truth"][...]) < -12  # the matched filter's level on whole lines


def test_quicklook_shows_truth_focusers_and_their_errors(files, tmp_path, monkeypatch):
    """A scene carrying its truth: truth | model | matched filter | model - truth | filter - truth, one dB
    scale; the error panels are dark where the model matches the truth, unlike the focused panels."""
    from kdssm.deploy.quicklook import QuickLook, panels

    assert panels(["focused", "matched_filter"], truth=True) == [
        "truth",
        "focused",
        "matched_filter",
        "model_error",
        "filter_error",
    ]
    assert panels(["focused", "matched_filter"], truth=False) == ["focused", "matched_filter", "difference"]
    assert panels(["focused"], truth=True) == ["truth", "focused", "model_error"]
    scene = simulate_scene(MINI, 700, 48, seed=4)
    source = tmp_path / "scene.npz"
    np.savez(source, raw=scene["raw"], truth=scene["truth"], slant_range_m=scene["slant_range_m"], preset="mini")
    seen = {}
    save = QuickLook.save

    def keep(self, path, title, model_title):  # the panels as drawn, kept for the assertions below
        seen.update(self.images)
        return save(self, path, title, model_title)

    monkeypatch.setattr(QuickLook, "save", keep)
    assert (
        _focus(files["linear"], "--input", source, "--output", tmp_path / "f.npz", "--compare", "matched_filter") == 0
    )
    assert list(seen) == ["truth", "focused", "matched_filter", "model_error", "filter_error"]
    assert np.allclose(seen["truth"], np.abs(scene["truth"]), rtol=1e-5)  # one pixel per sample at this size
    top = seen["truth"].max()
    for error in ("model_error", "filter_error"):  # the errors lie far below the image they come from
        assert np.median(seen[error]) < 0.2 * np.median(seen["focused"]) and seen[error].max() < top
    png = tmp_path / "f.png"
    assert png.stat().st_size > 10_000
