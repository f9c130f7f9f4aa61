"""Score a model (or the matched filter) on a test split: every figure of the output contract."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch

from . import metrics
from .data import matched_filter, point_target
from .data.production_filter import ProductionFilter
from .geometry import get_preset
from .inference import as_focuser, deployed
from .models import count_params
from .models.cost import macs_per_column

Focuser = Callable[[torch.Tensor], torch.Tensor]  # x (B, L, 2) -> y_hat (B, L, 1)


@torch.no_grad()
def predict(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """Outputs for x (N, L, 2) of a model's inference implementation (inference.as_focuser), batched, on
    the model's device -> (N, L, 1) on CPU."""
    net = as_focuser(model)
    device = next(net.parameters()).device
    return torch.cat([net(x[i : i + batch_size].to(device)).cpu() for i in range(0, x.shape[0], batch_size)])


def production_filter(preset, length: int) -> Focuser:
    """The matched filter a user would run instead (data/production_filter.py: complex64, reference spectra
    cached by range), for columns of `length` samples: what every latency is a ratio to."""
    return ProductionFilter(get_preset(preset).geometry(), length)


def latency_lines(x: torch.Tensor, length: int) -> torch.Tensor:
    """Columns x (B, L, 2) as lines of `length` samples (0: as they are) to time focusing on: each column's
    raw samples repeated along azimuth, its positional encoding kept. (B, length, 2) complex64."""
    if length in (0, x.shape[1]):
        return x
    reps = -(-length // x.shape[1])
    return x.repeat(1, reps, 1)[:, :length]


def deployed_latency(model: torch.nn.Module, x: torch.Tensor, preset, length: int = 0, batch: int = 32) -> dict:
    """latency_vs_filter of a model as it deploys (inference.deployed) on x's columns or on lines of
    `length` samples made from them (latency_lines)."""
    lines = latency_lines(x[:batch], length)
    return latency_vs_filter(deployed(model.eval(), lines.shape[1]), lines, preset, batch)


def latency_vs_filter(focus: Focuser, x: torch.Tensor, preset: str, batch: int = 32, repeats: int = 7) -> dict:
    """The focuser's latency and the production matched filter's, timed alternately in this process on the
    same `batch` columns (after a warm-up of each: the filter's spectra cached), the fastest of `repeats`
    calls each (the least disturbed by the machine's load): {"latency_ms_per_column", "filter_ms_per_column",
    "latency_vs_filter" (their ratio)}. The ratio moves less with the load than the milliseconds, not to
    nothing: both are timed. A model's focuser is what it deploys as (inference.deployed)."""
    xb = x[:batch]
    fast = production_filter(preset, xb.shape[1])
    calls = {"model": lambda: focus(xb), "filter": lambda: fast(xb)}
    best = dict.fromkeys(calls, math.inf)
    with torch.no_grad():
        for call in calls.values():
            call()
        for _ in range(repeats):
            for name, call in calls.items():
                start = time.perf_counter()
                call()
                best[name] = min(best[name], time.perf_counter() - start)
    ms = {name: 1e3 * s / xb.shape[0] for name, s in best.items()}
    return {
        "latency_ms_per_column": ms["model"],
        "filter_ms_per_column": ms["filter"],
        "latency_vs_filter": ms["model"] / ms["filter"],
    }


def score(focus: Focuser, y_hat: torch.Tensor, x: torch.Tensor, y: torch.Tensor, preset: str) -> dict:
    """nmse, nmse_valid, accuracy, point-target quality and latency (beside the matched filter's) of one
    focuser."""
    x_pt, _ = point_target(preset)
    with torch.no_grad():
        response = metrics.impulse_response(focus(x_pt)[0, :, 0])
    return {
        **split_scores(y_hat, x, y, preset),
        **{k: float(v) for k, v in response.items()},
        **latency_vs_filter(focus, x, preset),
    }


def evaluate_model(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, preset: str) -> dict:
    """Scores of a model on (x, y), latency measured on the CPU as the contract asks, and its
    multiply-accumulates per column (models/cost.py)."""
    cpu_model = model.to("cpu").eval()
    focus = deployed(cpu_model, x.shape[1])
    return {
        "params": count_params(cpu_model),
        "macs_per_column": macs_per_column(cpu_model, x.shape[1]),
        **score(focus, predict(focus, x), x, y, preset),
    }


def split_scores(y_hat: torch.Tensor, x: torch.Tensor, y: torch.Tensor, preset: str) -> dict:
    """The figures that depend on the columns: nmse, nmse_valid and accuracy of y_hat (N, L, 1) against y."""
    return {
        "nmse_db": metrics.nmse_db(y_hat, y),
        "nmse_valid_db": metrics.nmse_valid_db(y_hat, y, x, preset),
        "accuracy": metrics.accuracy(y_hat, y),
    }


def from_limit(y_hat: torch.Tensor, x: torch.Tensor, y: torch.Tensor, preset, limit: dict) -> dict:
    """How far y_hat is from the genie's limit (data/limit.py), whole and valid region, in dB; x, y, y_hat:
    the columns the limit was computed on (the split's first limit["columns"])."""
    scores = split_scores(y_hat, x, y, preset)
    return {
        "from_limit_db": scores["nmse_db"] - limit["nmse_db"],
        "from_limit_valid_db": scores["nmse_valid_db"] - limit["nmse_valid_db"],
    }


def validation_scores(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, preset: str) -> dict:
    """What a search selects on, on validation columns x (N, L, 2), y (N, L, 1)."""
    return split_scores(predict(model, x), x, y, preset)


def evaluate_matched_filter(x: torch.Tensor, y: torch.Tensor, preset: str) -> dict:
    """The classical baseline on the same columns: scored from the exact filter, timed (and its impulse
    response taken) as the production filter, its tested twin."""
    return {"params": 0, **score(production_filter(preset, x.shape[1]), matched_filter(x, preset), x, y, preset)}
