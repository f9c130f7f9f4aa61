"""`kdssm focus`: a trained model (or the matched filter beside it) over a whole scene or column set.

The scene streams in batches of range bins (`batch_columns`): read (scene_io.py), focused on tiles
(engine.py), written into a hidden temporary (renamed over OUT when complete), reduced into the
quick-look (quicklook.py). With `address`, the batches go through Ray Data instead (ray_focus.py)
and come back to the same writer.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import interrupts
from ..files import input_clash
from .engine import focus_block, focusers_for, main_output
from .product_scene import ProductScene, ProductWriter, check_product_output, open_scene
from .progress import Progress
from .quicklook import TRUTH, QuickLook, panels
from .scene_io import SceneError, SceneReader, SceneWriter, check_geometry, check_output, positional_encodings
from .source import REGISTRY_PREFIX, load_source

COMPARISONS = ("matched_filter",)


@dataclass
class FocusRequest:
    model: str
    input: Path
    output: Path
    batch_columns: int = 256
    precision: str = "fp32"
    compare: str | None = None
    tile_length: int | None = None
    overwrite: bool = False
    device: str = "cpu"
    tracking_uri: str | None = None
    address: str | None = None
    num_actors: int = 2
    use_gpu: bool = False
    fold: str = "auto"  # the folded path: auto (where the model folds and it pays), yes, no (engine.py)
    level: str = "rcmc"  # a product's input level
    product_scale: float | None = None  # a product's scale (default its column_scale, else estimated)


class StopRequests:
    """SIGTERM and SIGINT noted by a flag and acted on between batches, never in the middle of a write:
    Zarr writes from its own I/O thread, and an exception raised while a chunk is in flight would let
    that chunk land after the temporary output was removed."""

    def __init__(self):
        self.signal = None

    def __enter__(self):
        self.previous = {sig: signal.signal(sig, self._note) for sig in (signal.SIGTERM, signal.SIGINT)}
        return self

    def _note(self, signum, frame):
        self.signal = signum
        interrupts.note(signum)

    def check(self) -> None:
        if self.signal is not None:
            raise interrupts.Interrupted(self.signal, "the output was not written (its temporary is removed)")

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def focus_file(req: FocusRequest, progress: bool = True) -> dict:
    """Focus req.input into req.output (+ quick-look PNG); returns the run's figures."""
    reader = open_scene(req.input, req.level, req.product_scale)
    out = Path(req.output)
    if isinstance(reader, ProductScene):
        check_product_output(reader, out, ["focused", "matched_filter"] if req.compare else ["focused"])
    png = out.with_suffix(".png")
    inputs = (req.input,) + (() if req.model.startswith(REGISTRY_PREFIX) else (req.model,))
    check_output(out, req.overwrite, inputs)
    clash = input_clash(png, inputs)
    if clash is not None:
        raise SceneError(f"{png}: the quick-look would replace the input {clash}")
    if png.exists() and not req.overwrite:
        raise SceneError(f"{png}: exists (pass --overwrite to replace it)")
    if req.compare is not None and req.compare not in COMPARISONS:
        raise SceneError(f"--compare {req.compare}: unknown (known: {', '.join(COMPARISONS)})")
    if req.batch_columns < 1:
        raise SceneError(f"--batch_columns must be >= 1, got {req.batch_columns}")
    if req.address and req.num_actors < 1:
        raise SceneError(f"--num_actors must be >= 1, got {req.num_actors}")
    model, ckpt = load_source(req.model, req.tracking_uri)
    geometry = check_geometry(reader, model.geometry)
    p = positional_encodings(reader, geometry)
    length = reader.shape[1] if reader.columns else reader.shape[0]  # the samples of every line
    focusers = focusers_for(
        model, geometry, reader.columns, req.precision, req.tile_length, req.device, req.compare, req.fold, length
    )
    total = reader.range_bins
    shown = panels(list(focusers), reader.has_truth)
    if reader.columns:
        n, length = reader.shape[:2]
        quick = QuickLook(length, n, shown)
        shapes = dict.fromkeys(focusers, ((n, length, 1), "complex64"))
    else:
        azimuth = reader.shape[0]
        quick = QuickLook(azimuth, total, shown)
        shapes = dict.fromkeys(focusers, ((azimuth, total), "complex64"))
    batch = quick.batch_multiple(req.batch_columns)
    spans = [(s, min(s + batch, total)) for s in range(0, total, batch)]
    check_room(reader, focusers, shapes, batch, out)
    with StopRequests() as stops:
        if isinstance(reader, ProductScene):
            writer = ProductWriter(out, reader, shapes)
        else:
            writer = SceneWriter(out, shapes, batch, reader.columns)
        try:
            if req.address:
                from .ray_focus import focus_blocks_on_ray

                blocks = focus_blocks_on_ray(req, ckpt, geometry, p, spans)
            else:
                blocks = _local_blocks(reader, focusers, p, spans)
            bar = Progress(total, "columns" if reader.columns else "range bins", progress)
            figures = _stream(blocks, writer, quick, focusers, bar, stops, reader)
            figures = {"model": req.model, "precision": req.precision, "columns": int(total), **figures}
            figures["columns_input"] = bool(reader.columns)  # a stack of columns, not a scene of range bins
            _put_fields(writer, reader, geometry, p, figures)
            stops.check()
            writer.commit()
        except BaseException:
            writer.abort()
            raise
    model = req.model if req.model.startswith(REGISTRY_PREFIX) else Path(req.model).name
    quick.save(png, f"{model} on {reader.path.name} ({req.precision})", f"model ({model})")
    return {**figures, "output": str(out), "quicklook": str(png)}


def check_room(reader: SceneReader | ProductScene, focusers: dict, shapes: dict, batch: int, out: Path) -> None:
    """Refuse, before anything is written, a focus run that its memory or the output's disk cannot hold."""
    import shutil

    from ..resources import COMPLEX, available_memory, mb, model_memory

    lines = focusers[main_output(reader.columns)]
    tile = lines.model_length(reader.shape[1] if reader.columns else reader.shape[0])
    model = model_memory(lines.model.config, lines.per_call(tile), tile, "forward").total
    output = sum(int(np.prod(shape)) * COMPLEX for shape, _ in shapes.values())
    per_column = output // reader.range_bins
    block = batch * per_column * (1 + len(shapes))  # the block read, and every focuser's output of it
    whole = output if out.suffix == ".npz" else 0  # an .npz output is assembled in memory
    if reader.path.suffix == ".npz":
        whole += reader.path.stat().st_size  # and an .npz input read whole
    needed, available = model + block + whole, available_memory()
    if needed > available:
        raise SceneError(
            f"focusing {reader.path.name} needs about {mb(needed)} of memory, {mb(available)} is "
            "available; lower --batch_columns or --tile_length, or write .zarr (streamed) instead of .npz"
        )
    if isinstance(reader, ProductScene):
        output += reader.disk_bytes()  # the product is copied beside the focused level
    free = shutil.disk_usage(out.parent).free
    if output > free:
        raise SceneError(f"{out}: the output needs about {mb(output)} of disk, {mb(free)} is free there")


def _stream(
    blocks, writer: SceneWriter, quick: QuickLook, focusers: dict, bar: Progress, stops: StopRequests, reader
) -> dict:
    """Write every focused block and add it (and the truth, and model - filter) to the quick-look; the run's
    timing figures."""
    columns = reader.columns
    started, done = time.perf_counter(), 0
    busy = dict.fromkeys(focusers, 0.0)
    main = main_output(columns)
    for start, stop, arrays, seconds in blocks:
        for name in busy:
            busy[name] += seconds[name]
        for name, values in arrays.items():
            writer.write(name, start, stop, values)
        lines = {name: values[..., 0] if columns else values for name, values in arrays.items()}  # (n, A) complex
        quick.add_lines(start, lines, main, reader.truth(start, stop) if TRUTH in quick.images else None)
        done += stop - start
        bar.update(done)
        stops.check()
    lines = focusers[main]
    figures = {
        "path": lines.path,
        "tile_length": int(lines.tile_length),
        "overlap": int(lines.overlap),
        "tiles_exact_for_linear_models": bool(lines.exact),
        "focus_seconds": round(busy[main], 3),
        "wall_seconds": round(time.perf_counter() - started, 3),
        "columns_per_second": round(done / max(busy[main], 1e-9), 1),
    }
    if "matched_filter" in busy:
        figures["matched_filter_columns_per_second"] = round(done / max(busy["matched_filter"], 1e-9), 1)
    return figures


def _local_blocks(reader, focusers, p, spans):
    for start, stop in spans:
        arrays, seconds = focus_block(reader, focusers, p, start, stop)
        yield start, stop, arrays, seconds


def _put_fields(writer: SceneWriter, reader: SceneReader, geometry, p, figures: dict) -> None:
    for key, value in geometry.to_dict().items():
        writer.put(key, value)
    if not reader.columns:
        writer.put("slant_range_m", geometry.slant_range(p))
        writer.put("edge_samples", geometry.half_aperture(p).astype(np.int64))
    for key in ("precision", "path", "tile_length", "overlap", "columns_per_second"):
        writer.put(key, figures[key])
