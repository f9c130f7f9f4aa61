"""Training from ground truth (Lightning)."""
