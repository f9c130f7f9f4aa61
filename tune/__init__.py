"""Search layer: Ray Tune + Optuna sweeps over distilled students (see the search issue)."""
