"""The teacher cache is keyed by what the targets depend on and trusts nothing malformed."""

import torch

from kdssm.data import simulate
from kdssm.distill import teacher_cache
from kdssm.models import SarSSM


def _teacher():
    torch.manual_seed(0)
    return SarSSM(model_dim=3, state_dim=8, num_layers=2, use_selectivity=True).eval()


def _cached(cache, teacher, x, y, layers=(0, 1), sha="a" * 64):
    return teacher_cache.load_or_compute(cache, teacher, sha, teacher_cache.split_identity(x, y), x, list(layers), True)


def test_a_change_of_columns_labels_teacher_layers_or_code_misses(tmp_path, monkeypatch):
    teacher = _teacher()
    x, y = simulate("mini", 6, 1)
    assert not _cached(tmp_path, teacher, x, y)[1]
    assert _cached(tmp_path, teacher, x, y)[1]  # the same columns: a hit
    x2 = x.clone()
    x2[0, 0, 0] += 1e-3  # same seed and size, other content (a changed simulator): a miss
    assert not _cached(tmp_path, teacher, x2, y)[1]
    y2 = y.clone()
    y2[1, 5, 0] += 1e-3
    assert not _cached(tmp_path, teacher, x, y2)[1]
    assert not _cached(tmp_path, teacher, x, None)[1]  # unlabelled columns are other columns
    assert not _cached(tmp_path, teacher, x, y, layers=(1,))[1]
    assert not _cached(tmp_path, teacher, x, y, sha="b" * 64)[1]
    monkeypatch.setattr(teacher_cache, "code_identity", lambda: "another kdssm")
    assert not _cached(tmp_path, teacher, x, y)[1]


def test_a_malformed_entry_is_recomputed(tmp_path):
    teacher = _teacher()
    x, y = simulate("mini", 4, 2)
    targets, _ = _cached(tmp_path, teacher, x, y)
    (path,) = tmp_path.glob("*.pt")
    for bad in (
        {"outputs": targets.outputs[:2], "features": targets.features},
        {"outputs": targets.outputs.real, "features": targets.features},
        {"outputs": targets.outputs, "features": {0: targets.features[0]}},
    ):
        torch.save(bad, path)
        again, hit = _cached(tmp_path, teacher, x, y)
        assert not hit and torch.equal(again.outputs, targets.outputs) and sorted(again.features) == [0, 1]


def test_code_identity_follows_the_model_source():
    assert teacher_cache.code_identity() == teacher_cache.code_identity()
    assert len(teacher_cache.code_identity()) == 64


def test_an_entry_is_written_without_checksums_and_a_torn_one_is_recomputed(tmp_path, monkeypatch):
    import os

    fsyncs = []
    monkeypatch.setattr(os, "fsync", lambda fd: fsyncs.append(fd))
    teacher = _teacher()
    x, y = simulate("mini", 4, 2)
    torch.serialization.set_crc32_options(True)
    targets, _ = _cached(tmp_path, teacher, x, y)
    assert torch.serialization.get_crc32_options()  # the process-wide option restored
    assert fsyncs == []  # a cache entry is not forced to disk (a few seconds for the demo sweep's)
    (path,) = tmp_path.glob("*.pt")
    again, hit = _cached(tmp_path, teacher, x, y)
    assert hit and torch.equal(again.outputs, targets.outputs)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # what a power loss could leave
    again, hit = _cached(tmp_path, teacher, x, y)
    assert not hit and torch.equal(again.outputs, targets.outputs)


def test_targets_cheaper_than_the_threshold_are_not_stored(tmp_path):
    teacher = _teacher()
    x, y = simulate("mini", 4, 2)
    split = teacher_cache.split_identity(x, y)
    quick, hit = teacher_cache.load_or_compute(tmp_path, teacher, "a" * 64, split, x, [0], True, store_after_s=60.0)
    assert not hit and not list(tmp_path.glob("*.pt"))
    stored, _ = teacher_cache.load_or_compute(tmp_path, teacher, "a" * 64, split, x, [0], True, store_after_s=0.0)
    assert len(list(tmp_path.glob("*.pt"))) == 1 and torch.equal(quick.outputs, stored.outputs)
