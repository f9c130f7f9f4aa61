"""Peak CPU memory of one forward or training step, measured in a fresh process.

A fresh process keeps earlier allocations of the caller out of the figure. It reads VmHWM (the
peak resident set of the process image); ru_maxrss would carry the parent's peak across exec.
"""

from __future__ import annotations

import json
import subprocess
import sys

_SCRIPT = """
import json, sys, torch
from kdssm.checkpoint import load_model
from kdssm.models import SarSSM
spec = json.loads(sys.argv[1])
def hwm():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
torch.manual_seed(0)
model = load_model(spec["checkpoint"]) if spec.get("checkpoint") else SarSSM(**spec["model"])
x = torch.randn(spec["batch"], spec["length"], 2, dtype=torch.complex64)
x[..., 1] = torch.rand(spec["batch"], 1)  # columns over the whole swath: a batch reads as many grid kernels as a split
before = hwm()
if spec["mode"] == "forward":
    with torch.no_grad():
        model.eval()(x)
else:
    model.train()(x).abs().pow(2).mean().backward()
print((hwm() - before) / 1024.0)
"""


def peak_memory_mb(
    length: int, mode: str = "forward", batch: int = 32, checkpoint: str | None = None, model: dict | None = None
) -> float | None:
    """MB added to the peak resident set by one batch (`forward` or `train_step`), or None if it failed.

    Give either a checkpoint path or a model's keyword arguments.
    """
    spec = {"length": length, "mode": mode, "batch": batch, "checkpoint": checkpoint, "model": model}
    out = subprocess.run([sys.executable, "-c", _SCRIPT, json.dumps(spec)], capture_output=True, text=True)
    try:
        return float(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
