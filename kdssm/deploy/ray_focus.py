"""Batch focusing on a Ray cluster: the scene's batches of range bins through Ray Data.

The driver makes one row per batch (its range-bin span); `map_batches` runs them on a pool of
`num_actors` actors, each of which loads the model once (its checkpoint travels in the object
store, so no node needs the driver's files) and reads its spans from the input on shared storage
(every node must see the input path). The focused spans come back to the driver, which writes
them as the local path does. Each actor reserves and uses as many threads as the driver has, so
its sums run in the same order and the output is bit for bit the local one
(tests/deploy/test_ray_focus.py).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from .. import interrupts
from ..files import MODEL_FILE
from .errors import DeployError


class FocusActor:
    """One loaded model per actor; `__call__` focuses a batch of spans."""

    def __init__(
        self,
        checkpoint: bytes,
        input_path: str,
        precision: str,
        tile_length: int | None,
        compare: str | None,
        device: str,
        threads: int,
        level: str = "rcmc",
        product_scale: float | None = None,
        fold: str = "auto",
    ):
        import torch

        torch.set_num_threads(threads)  # the driver's count: the same summation order, the same bits
        from ..checkpoint import load_model
        from .engine import focusers_for
        from .product_scene import open_scene
        from .scene_io import check_geometry, positional_encodings

        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, MODEL_FILE)
            with open(path, "wb") as fh:
                fh.write(checkpoint)
            model = load_model(path)
        self.reader = open_scene(input_path, level, product_scale)
        geometry = check_geometry(self.reader, model.geometry)
        self.p = positional_encodings(self.reader, geometry)
        columns = self.reader.columns
        length = self.reader.shape[1] if columns else self.reader.shape[0]
        self.focusers = focusers_for(model, geometry, columns, precision, tile_length, device, compare, fold, length)

    def __call__(self, batch: dict) -> dict:
        from .engine import focus_block

        rows = []
        for start, stop in zip(batch["start"], batch["stop"]):
            arrays, seconds = focus_block(self.reader, self.focusers, self.p, int(start), int(stop))
            rows.append(
                {
                    "start": int(start),
                    "stop": int(stop),
                    **{k: v.view(np.float32) for k, v in arrays.items()},  # Arrow has no complex dtype
                    **{f"seconds_{k}": v for k, v in seconds.items()},
                }
            )
        return {key: [row[key] for row in rows] for key in rows[0]}


def connect(address: str) -> None:
    import ray

    if ray.is_initialized():
        return
    from ..ray_local import start_local_ray

    quiet = {"logging_level": logging.WARNING, "logging_config": ray.LoggingConfig(log_level="ERROR")}
    try:
        if address == "local":
            start_local_ray(**quiet)
        else:
            ray.init(address=address, include_dashboard=False, **quiet)
    except ConnectionError:
        raise DeployError(
            f"--address {address}: no running Ray cluster found (start one with `ray start --head`, "
            "or give --address local)"
        ) from None
    interrupts.reclaim()  # SIGTERM ends focus with its `interrupted` line, not Ray's abort


def focus_blocks_on_ray(req, checkpoint_path, geometry, p, spans):
    """Yield (start, stop, {name: array}, seconds) for every span, focused by a Ray Data actor pool."""
    import ray
    import torch

    connect(req.address)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    payload = Path(checkpoint_path).read_bytes()
    dataset = ray.data.from_items([{"start": s, "stop": e} for s, e in spans], override_num_blocks=len(spans))
    threads = torch.get_num_threads()
    focused = dataset.map_batches(
        FocusActor,
        batch_size=1,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=req.num_actors),
        num_gpus=1 if req.use_gpu else 0,
        num_cpus=threads,
        fn_constructor_kwargs={
            "threads": threads,
            "checkpoint": payload,
            "input_path": str(req.input.resolve()),
            "precision": req.precision,
            "tile_length": req.tile_length,
            "compare": req.compare,
            "device": "cuda" if req.use_gpu else "cpu",
            "level": req.level,
            "product_scale": req.product_scale,
            "fold": req.fold,
        },
    )
    for row in focused.iter_rows():
        arrays = {
            k: np.ascontiguousarray(v, dtype=np.float32).view(np.complex64)
            for k, v in row.items()
            if k not in ("start", "stop") and not k.startswith("seconds_")
        }
        seconds = {k[len("seconds_") :]: float(v) for k, v in row.items() if k.startswith("seconds_")}
        yield int(row["start"]), int(row["stop"]), arrays, seconds
