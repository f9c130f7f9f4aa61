"""Distributed flags that cannot work: one line naming the flag, exit 2, nothing written."""

import subprocess

import pytest

from ..helpers import cli
from .helpers import ROOT, kdssm

CASES = {
    "too_many_workers": (
        ["--num_workers", "64"],
        "--num_workers 64: needs 64 CPUs (1 per worker), the Ray cluster has 4",
    ),
    "too_many_gpus": (
        ["--num_workers", "1", "--use_gpu"],
        "--use_gpu with --num_workers 1: needs 1 GPUs, the Ray cluster has 0",
    ),
    "unreachable_address": (["--address", "127.0.0.1:9"], "--address 127.0.0.1:9: cannot reach 127.0.0.1:9"),
    "malformed_address": (["--address", "nowhere"], "--address nowhere: expected auto, host:port"),
    "unwritable_storage": (["--storage_path", "/proc/kdssm"], "--storage_path /proc/kdssm: not a writable folder"),
    "unknown_storage_scheme": (["--storage_path", "nosuch://bucket/x"], "--storage_path nosuch://bucket/x:"),
    "zero_workers": (["--num_workers", "0"], "argument --num_workers/--num-workers: must be >= 1, got 0"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_cluster_flag(tmp_path, teacher_run, ray_local, capsys, case):
    flags, message = CASES[case]
    run = tmp_path / "run"
    assert cli(["distill", "--teacher_checkpoint", str(teacher_run), "--save_dir", str(run), "--quiet", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"kdssm: error: {message}") and "\n" not in err, err
    assert not run.exists()  # checked before anything was written


def test_unreachable_address_from_the_real_cli(tmp_path, teacher_run):
    run = tmp_path / "run"
    done = subprocess.run(
        kdssm(
            "distill",
            "--teacher_checkpoint",
            str(teacher_run),
            "--save_dir",
            str(run),
            "--address",
            "ray://127.0.0.1:9",
        ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip() == "kdssm: error: --address ray://127.0.0.1:9: cannot reach 127.0.0.1:9 "
        "(Connection refused)"
    )
    assert not run.exists()
