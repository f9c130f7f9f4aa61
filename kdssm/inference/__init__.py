"""The inference implementation of a trained sarSSM, built on purpose and called by name.

`SarSSM.forward` (kdssm/models/sarssm.py) is the readable reference, used for training; it never
switches to another path. What runs a trained model asks for one of these:
- `infer(model, x)` / `InferenceModel(model)`: complex arithmetic, channels-first, any column length,
  kernel spectra cached per length (channels_first.py): validation, teacher outputs, scores, focus.
- `FoldedSarSSM(model)` (folded.py): an edge-gated model on long lines, one cached spectrum per range
  where its gates are closed and infer() on the lines' ends; `deployed(model, length)` is what `kdssm focus`
  runs at fp32 (folded where it folds and pays), and what every latency is measured through.
- `freeze(model, length)`: real arithmetic at one tile length, spectra baked into buffers, every complex
  product on real views (real_view.py): export (ONNX has no complex dtype) and reduced precision.
Both equal the reference for every option (tests/inference/test_inference.py).
"""

from .channels_first import InferenceModel, convolve, infer
from .folded import FoldedSarSSM, FoldError, deployed
from .real_view import FrozenSarSSM, apply_linear, block_linear, complex_mul, freeze


def as_focuser(model):
    """What scores and focuses a model: a SarSSM through InferenceModel; a module that already is an
    inference implementation (a frozen twin, a reduced-precision one, an InferenceModel) as it is."""
    from ..models.sarssm import SarSSM

    return InferenceModel(model) if isinstance(model, SarSSM) else model


__all__ = [
    "FoldError",
    "FoldedSarSSM",
    "FrozenSarSSM",
    "InferenceModel",
    "apply_linear",
    "as_focuser",
    "block_linear",
    "complex_mul",
    "convolve",
    "deployed",
    "freeze",
    "infer",
]
