"""Model sizes named by the seed pipeline (model_dim / state_dim / num_layers, selectivity)."""

from __future__ import annotations

MODEL_PRESETS: dict[str, dict] = {
    "teacher": {"model_dim": 64, "state_dim": 540, "num_layers": 6, "use_selectivity": True},
    "standard": {"model_dim": 64, "state_dim": 540, "num_layers": 6, "use_selectivity": False},
    "compressed": {"model_dim": 32, "state_dim": 256, "num_layers": 4, "use_selectivity": False},
    "tiny": {"model_dim": 24, "state_dim": 128, "num_layers": 3, "use_selectivity": False},
    "tiny16": {"model_dim": 16, "state_dim": 128, "num_layers": 3, "use_selectivity": False},
    "ultra": {"model_dim": 1, "state_dim": 64, "num_layers": 2, "use_selectivity": False},
    # Gated variants: the same sizes with selectivity gates (their form from the base config: gate_width,
    # gate_layers, gate_region). Gate-free presets are linear in the line and can only tie the matched filter.
    "standard_gated": {"model_dim": 64, "state_dim": 540, "num_layers": 6, "use_selectivity": True},
    "compressed_gated": {"model_dim": 32, "state_dim": 256, "num_layers": 4, "use_selectivity": True},
    "tiny_gated": {"model_dim": 24, "state_dim": 128, "num_layers": 3, "use_selectivity": True},
}
