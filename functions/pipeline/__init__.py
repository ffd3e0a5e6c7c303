"""The pipeline's entry function: where uploads arrive (docs/plans.md)."""
