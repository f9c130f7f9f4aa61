"""SIGKILL, SIGINT or SIGTERM `kdssm sweep` after its first finished trial; the same command resumes: nothing lost or
repeated, and an interrupted sweep never presents a partial front as final."""

import json
import signal
import subprocess

import pytest
import yaml

from .helpers import kdssm, kill_session, run_and_kill_when

SAMPLES = 4


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
def test_killed_sweep_resumes(tmp_path, teacher_run, sig):
    config = tmp_path / "sweep.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model": {"use_selectivity": False, "model_dim": 4, "state_dim": 8, "num_layers": 2, "dropout": 0.0},
                "data": {"preset": "mini", "train_size": 128, "val_size": 32, "test_size": 32},
                "training": {"num_epochs": 3, "batch_size": 16, "max_minutes": 0},
                "distillation": {"curriculum_epochs": 1},
                "search": {
                    "num_samples": SAMPLES,
                    "max_concurrent_trials": 1,
                    "early_stopping": "none",
                    "space": {"model_dim": {"choices": [2, 3, 4]}, "temperature": {"low": 1.0, "high": 4.0}},
                },
                "tracking": {"register_front": True},
            }
        )
    )
    save_dir = tmp_path / "sweep"
    cmd = kdssm(
        "sweep", "--teacher_checkpoint", str(teacher_run), "--config", str(config), "--save_dir", "sweep", "--quiet"
    )  # relative to the working folder, as users type it
    finished = lambda: sorted(save_dir.glob("trials/*/summary.json"))  # noqa: E731
    sessions, stderr = [], []
    ready = lambda: len(finished()) >= 1  # noqa: E731
    code = run_and_kill_when(cmd, ready, timeout=300, sessions=sessions, cwd=tmp_path, sig=sig, stderr=stderr)
    kill_session(sessions[0])
    if sig == signal.SIGKILL:
        assert code < 0, "the sweep finished before it could be killed"
    else:  # Ctrl+C or a scheduler's stop: a distinct exit status, one line saying what was kept; nothing concluded
        lines = [line for line in stderr[0].splitlines() if line.startswith("kdssm:")]
        assert code == 128 + sig, stderr[0][-3000:]
        assert len(lines) == 1 and lines[0].startswith(f"kdssm: interrupted ({sig.name}): "), lines
        assert f"of {SAMPLES} trials ended" in lines[0] and "no front was written or registered" in lines[0]
    for name in ("pareto.json", "registry.json", "comparison.md"):
        assert not (save_dir / name).exists(), name
    before = {p.parent.name: (p.read_bytes(), (p.parent / "model.ckpt").read_bytes()) for p in finished()}
    assert 1 <= len(before) < SAMPLES
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, start_new_session=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resuming the interrupted sweep" in done.stdout
    after = {p.parent.name for p in finished()}
    assert len(after) == SAMPLES  # every trial finished once; none lost, none added
    for trial_id, (summary, ckpt) in before.items():  # finished trials kept as they were, never retrained
        assert (save_dir / "trials" / trial_id / "summary.json").read_bytes() == summary
        assert (save_dir / "trials" / trial_id / "model.ckpt").read_bytes() == ckpt
    pareto = json.loads((save_dir / "pareto.json").read_text())
    ids = [e["trial_id"] for e in pareto["front"]] + [e["trial_id"] for e in pareto["dominated"]]
    assert sorted(ids) == sorted(after)
    assert (save_dir / "registry.json").is_file()  # the whole front, registered once the sweep ended
