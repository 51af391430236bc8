"""Guardrails (SPEC §8): per-customer caps, merchant quotas, quiet hours and risk, enforced inside dispatch."""
