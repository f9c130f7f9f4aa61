"""`kdssm focus`, `kdssm export` and `kdssm scene`: putting a trained model to work (the deploy layer's commands)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..config import PRESETS
from ..deploy.formats import FORMATS, PRECISIONS
from .parser import add_print_config, nonempty_path, nonnegative_int, positive_float, positive_int


def cmd_focus(args: argparse.Namespace) -> int:
    from ..deploy.focus import FocusRequest, focus_file

    req = FocusRequest(
        model=args.model,
        input=Path(args.input),
        output=Path(args.output),
        batch_columns=args.batch_columns,
        precision=args.precision,
        compare=args.compare,
        tile_length=args.tile_length,
        overwrite=args.overwrite,
        device=args.device,
        tracking_uri=args.tracking_uri,
        address=args.address,
        num_actors=args.num_actors,
        use_gpu=args.use_gpu,
        level=args.level,
        product_scale=args.product_scale,
        fold=args.fold,
    )
    figures = focus_file(req, progress=not args.quiet)
    unit = "columns" if figures["columns_input"] else "range bins"  # as the progress line counted them
    if figures["path"] == "folded":
        how = "folded: one spectrum per range, the model at the lines' ends"
    else:
        how = f"tiles of {figures['tile_length']} samples overlapping by {figures['overlap']}"
    print(
        f"focused {figures['columns']} {unit} at {figures['columns_per_second']:,.0f} per second "
        f"({figures['precision']}, {how}): {figures['output']}, quick-look {figures['quicklook']}"
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..deploy.export import export_model

    figures = export_model(args.model, args.format, Path(args.out), args.length, args.tracking_uri, args.overwrite)
    print(
        f"exported {args.model} as {figures['format']} for tiles of {figures['length']} samples: {figures['path']} "
        f"(outputs equal the eager model's to {figures['relative_error']:.1e} relative on "
        f"{figures['check_columns']} test columns)"
    )
    print(json.dumps({k: figures[k] for k in ("input", "output")}))
    return 0


def cmd_scene(args: argparse.Namespace) -> int:
    from ..data.scene import simulate_scene
    from ..deploy.scene_io import SceneWriter, check_output
    from ..geometry import get_preset
    from ..resources import check_scene

    out = Path(args.output)
    check_output(out, args.overwrite)
    if args.layout == "maya4":
        return _write_product(args, out)
    check_scene(args.azimuth, args.range_bins, out)
    preset = get_preset(args.preset)
    scene = simulate_scene(preset.geometry(), args.azimuth, args.range_bins, args.seed)
    shape = (args.azimuth, args.range_bins)
    writer = SceneWriter(out, {"raw": (shape, "complex64"), "truth": (shape, "complex64")}, args.range_bins, False)
    try:
        writer.write("raw", 0, args.range_bins, scene["raw"].T)
        writer.write("truth", 0, args.range_bins, scene["truth"].T)  # noise-free focused reference, for scoring
        writer.put("slant_range_m", scene["slant_range_m"])
        writer.put("preset", args.preset)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    print(
        f"simulated a {args.preset} scene of {args.azimuth} azimuth samples x {args.range_bins} range bins "
        f"(raw, truth, slant_range_m): {out}"
    )
    return 0


def _write_product(args: argparse.Namespace, out: Path) -> int:
    from ..data.product_writer import maya4_chunk, write_product
    from ..deploy.scene_io import SceneError
    from ..geometry import get_preset
    from ..resources import check_scene

    if out.suffix != ".zarr":
        raise SceneError(f"{out}: a maya4 product is a Zarr group (end the name in .zarr)")
    levels = 1 + args.rc + (not args.unlabelled)
    check_scene(
        args.azimuth, maya4_chunk(args.azimuth, args.range_bins), out, disk_arrays=levels, columns=args.range_bins
    )
    preset = get_preset(args.preset)
    geometry = write_product(
        out,
        preset.geometry(),
        preset.length,
        args.azimuth,
        args.range_bins,
        args.seed,
        scale=args.scale,
        rc=args.rc,
        labelled=not args.unlabelled,
        targets_per_column=args.targets,
        state_scale=not args.estimate_scale,
    )
    levels = "rcmc" + (", rc" if args.rc else "") + ("" if args.unlabelled else ", az")
    print(
        f"simulated a Maya4-layout product of {args.azimuth} lines x {args.range_bins} range bins ({levels}; "
        f"metadata and ephemeris stating PRF {geometry.prf_hz:g} Hz, slant range "
        f"{geometry.slant_range_near_m / 1e3:.3f}-{geometry.slant_range_far_m / 1e3:.3f} km): {out}"
    )
    return 0


def register(sub) -> None:
    model_help = "a run folder, a model.ckpt, or models:/<name>@<alias> (with --tracking_uri)"
    foc = sub.add_parser("focus", help="focus a scene (.npz or Zarr) or column set with a trained model")
    foc.add_argument("model", help=model_help)
    foc.add_argument(
        "--input",
        required=True,
        type=nonempty_path,
        help="scene: raw (azimuth, range bins) + slant_range_m; columns x; or a Maya4-layout product (.zarr)",
    )
    foc.add_argument(
        "--output", required=True, type=nonempty_path, help="focused scene (.npz or .zarr); a quick-look .png beside it"
    )
    foc.add_argument("--compare", choices=("matched_filter",), help="also write the classical focusing beside it")
    foc.add_argument(
        "--level",
        choices=("rcmc", "rc"),
        default="rcmc",
        help="a Maya4-layout product's input level (default rcmc); the output is a copy of the product with "
        "the focused level added",
    )
    foc.add_argument(
        "--product_scale",
        "--product-scale",
        type=positive_float,
        help="a product's scale, as data.product_scale in training (default its column_scale, else estimated)",
    )
    foc.add_argument(
        "--batch_columns",
        "--batch-columns",
        type=positive_int,
        default=256,
        help="range bins held in memory at once (default 256)",
    )
    foc.add_argument("--precision", choices=PRECISIONS, default="fp32", help="linear layers' precision; FFTs stay fp32")
    foc.add_argument(
        "--tile_length",
        "--tile-length",
        type=positive_int,
        help="azimuth samples per tile (default: 8 overlaps, at least 1024)",
    )
    foc.add_argument(
        "--fold",
        choices=("auto", "yes", "no"),
        default="auto",
        help="run an edge-gated model folded (one spectrum per range where its gates are closed; the same "
        "values): auto where it folds and pays (default), yes to demand it, no for tiles",
    )
    foc.add_argument("--device", default="cpu", help="cpu or cuda")
    foc.add_argument("--tracking_uri", "--tracking-uri", help="MLflow tracking URI for a models:/ source")
    foc.add_argument("--address", help="Ray cluster (auto, host:port, or local) to focus through Ray Data")
    foc.add_argument("--num_actors", "--num-actors", type=positive_int, default=2, help="Ray Data actors (default 2)")
    foc.add_argument("--use_gpu", "--use-gpu", action="store_true", help="one GPU per Ray actor")
    foc.add_argument("--overwrite", action="store_true", help="replace an existing output")
    foc.add_argument("--quiet", action="store_true", help="no progress lines")
    add_print_config(foc)
    foc.set_defaults(func=cmd_focus)

    sce = sub.add_parser("scene", help="simulate a whole scene (raw, its focused truth, slant ranges) to focus")
    sce.add_argument("--preset", default="mini", choices=PRESETS, help="geometry and column length (default mini)")
    sce.add_argument("--azimuth", type=positive_int, default=1000, help="azimuth samples (default 1000)")
    sce.add_argument("--range_bins", "--range-bins", type=positive_int, default=1024, help="range bins (default 1024)")
    sce.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the simulated scene (default 0)")
    sce.add_argument("--output", required=True, type=nonempty_path, help=".npz or .zarr (maya4: .zarr)")
    sce.add_argument(
        "--layout",
        choices=("scene", "maya4"),
        default="scene",
        help="scene: raw, truth, slant_range_m (default); maya4: a Sentinel-1 product's layout (rcmc, az, "
        "L0 metadata and ephemeris records), range bins at S1's coarsest range sampling from the near range",
    )
    sce.add_argument(
        "--scale", type=positive_float, default=1.0, help="maya4: the levels' units per data-card unit (default 1)"
    )
    sce.add_argument(
        "--targets", type=float, default=3.0, help="maya4: point targets per column (default the card's 3)"
    )
    sce.add_argument("--rc", action="store_true", help="maya4: also write rc (equal to rcmc: no range migration)")
    sce.add_argument("--unlabelled", action="store_true", help="maya4: no az level (columns without targets)")
    sce.add_argument(
        "--estimate_scale", "--estimate-scale", action="store_true", help="maya4: no column_scale attribute"
    )
    sce.add_argument("--overwrite", action="store_true", help="replace an existing output")
    add_print_config(sce)
    sce.set_defaults(func=cmd_scene)

    exp = sub.add_parser("export", help="export a trained model (TorchScript, ONNX, ExportedProgram), checked")
    exp.add_argument("model", help=model_help)
    exp.add_argument("--format", required=True, choices=tuple(FORMATS), help="what to write (one file per format)")
    exp.add_argument("--out", required=True, type=nonempty_path, help="file to write (.pt, .onnx or .pt2 by format)")
    exp.add_argument("--length", type=positive_int, help="tile length T (default: the column length it was trained on)")
    exp.add_argument("--tracking_uri", "--tracking-uri", help="MLflow tracking URI for a models:/ source")
    exp.add_argument("--overwrite", action="store_true", help="replace an existing file")
    add_print_config(exp)
    exp.set_defaults(func=cmd_export)
