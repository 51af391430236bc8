"""Experiments (A/B treatments): arm assignment and the statistics of per-arm effect and the verdict (pure)."""
