"""Distillation: pure loss functions (here), projections, schedules and the LightningModule."""
