"""Maya4-layout products: columns read per second against the simulator, memory held while reading a 2 GB
product, and a model trained on a product's columns against the same model trained on the simulator's.

    python benchmarks/products.py --folder /tmp/products            # all three parts (~15 min on 2 cores)
    python benchmarks/products.py --folder /tmp/products --parts read memory

- read: a fresh ProductSet draws and reads 4,096 training columns of a synthetic product (Maya4's chunks:
  square, 512 or a quarter of the product), beside `simulate` making as many columns of the same geometry;
  both against the columns per second one training step of the demo student consumes on this machine.
- memory: a product of 2 GiB (rcmc and az, 32,768 lines x 4,096 range bins) is read through a 64 MB
  cache, column by column in random order (ProductColumns) and as one drawn split; the process's resident
  memory is sampled every 5 ms in a thread, its peak above the level before reading is reported.
- train: the demo student (configs/demo/student.yaml's model) trained for a fixed number of epochs on
  2,048 columns of a product and on 2,048 simulated columns of the product's geometry (the six fields
  stated), same sizes, same seeds, two training seeds each; every model scored on the product's test split
  and on the simulator's test split of that geometry.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from common import write_result

from kdssm.checkpoint import load_model
from kdssm.config import RunConfig
from kdssm.data.datasets import load_split
from kdssm.data.product_columns import ProductOptions, ProductSet
from kdssm.data.product_writer import write_product
from kdssm.data.simulate import simulate
from kdssm.evaluate import evaluate_matched_filter, evaluate_model
from kdssm.geometry import FIELDS, PRESETS, columns_of

ROOT = Path(__file__).resolve().parents[1]
KEEP = ("nmse_db", "nmse_valid_db", "accuracy")


def training_columns_per_second(length: int) -> float:
    """Columns per second one training step (batch 32, forward and backward) of the demo student takes."""
    from kdssm.models import build_model

    cfg = RunConfig.from_file(ROOT / "configs/demo/student.yaml")
    model = build_model(cfg.model.replace(geometry=PRESETS["mini"].geometry().to_dict()))
    x, y = simulate(columns_of(PRESETS["mini"].geometry(), length), 32, seed=0)
    times = []
    for _ in range(6):
        tic = time.perf_counter()
        loss = (model(x) - y).abs().pow(2).mean()
        loss.backward()
        times.append(time.perf_counter() - tic)
    return 32 / statistics.median(times[1:])


def read_part(folder: Path) -> dict:
    out = {}
    for name, lines, bins in (("mini", 8192, 2048), ("s1", 16000, 2048)):  # Maya4's 512 x 512 chunks
        pre = PRESETS[name]
        path = folder / f"read_{name}.zarr"
        if not path.exists():
            write_product(path, pre.geometry(), pre.length, lines, bins, seed=1)
        tic = time.perf_counter()
        products = ProductSet(ProductOptions((path,), length=pre.length), quiet=True)
        opened = time.perf_counter() - tic
        index = products.draw(products.split_tiles(2, 3)["train"], 4096, seed=1)
        tic = time.perf_counter()
        products.read_columns(index)
        read = time.perf_counter() - tic
        tic = time.perf_counter()
        simulate(columns_of(products.geometry, pre.length), len(index), seed=1)
        simulated = time.perf_counter() - tic
        step = training_columns_per_second(pre.length)
        out[name] = {
            "product": f"{lines} lines x {bins} range bins, chunks {products.products[0].input.chunks}",
            "columns": len(index),
            "open_seconds": round(opened, 3),
            "product_columns_per_second": round(len(index) / read),
            "simulator_columns_per_second": round(len(index) / simulated),
            "training_step_columns_per_second": round(step),
            "read_over_training": round(len(index) / read / step, 1),
        }
        print(name, out[name], flush=True)
    return out


MEMORY_CHILD = r"""
import json, sys, threading, time
import numpy as np, psutil
from pathlib import Path
from kdssm.data.product_columns import ProductColumns, ProductOptions, ProductSet
path, cache_mb, mode = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
proc = psutil.Process()
products = ProductSet(ProductOptions((path,), length=256, cache_bytes=cache_mb << 20), quiet=True)
splits = products.split_tiles(2, 3)
index = products.draw(splits["train"], 20000, seed=1)
before = proc.memory_info().rss
peak = [before]
done = threading.Event()
def sample():
    while not done.is_set():
        peak[0] = max(peak[0], proc.memory_info().rss)
        time.sleep(0.005)
watcher = threading.Thread(target=sample); watcher.start()
tic = time.perf_counter()
if mode == "random":
    columns = ProductColumns(products, index[:3000])
    for k in range(len(columns)):
        columns[k]
    n, held = 3000, 0
else:
    x, y = products.read_columns(index)
    n, held = len(index), x.numel() * 8 + y.numel() * 8
seconds = time.perf_counter() - tic
done.set(); watcher.join()
print(json.dumps({"columns": n, "seconds": round(seconds, 2), "columns_per_second": round(n / seconds),
    "cache_mb": cache_mb, "cache_peak_mb": round(products.cache.peak_bytes / 2**20, 1),
    "chunks_decoded": products.cache.reads, "columns_held_mb": round(held / 2**20, 1),
    "rss_peak_above_start_mb": round((peak[0] - before) / 2**20, 1),
    "rss_peak_above_columns_mb": round((peak[0] - before - held) / 2**20, 1)}))
"""


def memory_part(folder: Path) -> dict:
    path = folder / "two_gib.zarr"
    pre = PRESETS["mini"]
    out = {}
    if not path.exists():
        tic = time.perf_counter()
        write_product(path, pre.geometry(), pre.length, 32768, 4096, seed=2)
        out["write_seconds"] = round(time.perf_counter() - tic, 1)
    levels = sum(np.prod((32768, 4096)) * 8 for _ in ("rcmc", "az"))
    disk = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    out |= {"levels_gib": round(levels / 2**30, 2), "on_disk_gib": round(disk / 2**30, 2)}
    for mode in ("random", "split"):
        run = subprocess.run(
            [sys.executable, "-c", MEMORY_CHILD, str(path), "64", mode], capture_output=True, text=True, check=True
        )
        out[mode] = json.loads(run.stdout.strip().splitlines()[-1])
        print(mode, out[mode], flush=True)
    return out


def _train(folder: Path, data: list[str], seed: int, epochs: int) -> Path:
    run = folder / "runs" / f"{'product' if '--products' in data else 'simulator'}_{seed}"
    cmd = [
        sys.executable, "-m", "kdssm.cli", "train", "--config", str(ROOT / "configs/demo/student.yaml"),
        "--set", "data.train_scenes=null", "--set", "training.max_minutes=0", "--num_epochs", str(epochs),
        "--early_stopping_patience", str(epochs), "--train_size", "2048", "--val_size", "256", "--test_size", "512",
        "--seed", str(seed), "--save_dir", str(run), "--overwrite", "--quiet", *data,
    ]  # fmt: skip
    subprocess.run(cmd, check=True, cwd=ROOT)
    return run


def train_part(folder: Path, epochs: int, seeds: int) -> dict:
    pre = PRESETS["mini"]
    path = folder / "train.zarr"
    if not path.exists():
        write_product(path, pre.geometry(), pre.length, 24576, 128, seed=3, scale=37.0)
    product_data = ["--products", str(path)]
    products = ProductSet(ProductOptions((path,), length=pre.length), quiet=True)
    geometry = products.geometry
    sim_data = [f for k in FIELDS for f in ("--set", f"data.{k}={getattr(geometry, k)!r}")]
    cfg = RunConfig().with_overrides({"data": {"products": str(path), "test_size": 512}})
    test_sets = {"product_test": load_split(cfg.data, "test")}
    sim_cfg = RunConfig().with_overrides({"data": {**geometry.to_dict(), "test_size": 512}})
    test_sets["simulator_test"] = load_split(sim_cfg.data, "test")
    columns = columns_of(geometry, pre.length)
    rows = {"matched_filter": {k: {m: evaluate_matched_filter(t.x, t.y, columns)[m] for m in KEEP}
                               for k, t in test_sets.items()}}  # fmt: skip
    for seed in range(seeds):
        for arm, data in (("product", product_data), ("simulator", sim_data)):
            run = _train(folder, data, seed, epochs)
            model = load_model(run / "model.ckpt")
            scores = {k: {m: evaluate_model(model, t.x, t.y, columns)[m] for m in KEEP} for k, t in test_sets.items()}
            rows[f"{arm}_seed{seed}"] = scores
            print(arm, seed, scores, flush=True)
    gaps = {}
    for test in test_sets:
        for metric in ("nmse_db", "nmse_valid_db"):
            product = [rows[f"product_seed{s}"][test][metric] for s in range(seeds)]
            simulator = [rows[f"simulator_seed{s}"][test][metric] for s in range(seeds)]
            gaps[f"{test}.{metric}"] = {
                "product_mean": round(statistics.mean(product), 3),
                "simulator_mean": round(statistics.mean(simulator), 3),
                "product_minus_simulator_db": round(statistics.mean(product) - statistics.mean(simulator), 3),
                "per_seed_differences_db": [round(a - b, 3) for a, b in zip(product, simulator)],
            }
    return {
        "product": "24576 lines x 128 range bins, scale 37 (stated as column_scale)",
        "geometry": geometry.to_dict(),
        "epochs": epochs,
        "seeds": seeds,
        "train_val_test_columns": [2048, 256, 512],
        "scores": rows,
        "product_vs_simulator": gaps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", required=True, type=Path, help="where the products and runs are written")
    parser.add_argument("--parts", nargs="+", default=["read", "memory", "train"], choices=("read", "memory", "train"))
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    result_file = Path(__file__).parent / "results" / "products.json"
    result = json.loads(result_file.read_text()) if result_file.exists() else {}
    result = {k: v for k, v in result.items() if k in ("read", "memory", "train")}
    parts = {"read": lambda: read_part(args.folder), "memory": lambda: memory_part(args.folder),
             "train": lambda: train_part(args.folder, args.epochs, args.seeds)}  # fmt: skip
    for part in args.parts:
        result[part] = parts[part]()
    print(write_result("products", result))


if __name__ == "__main__":
    main()
