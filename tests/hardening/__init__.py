"""Hardening tests: generated requests against the OpenAPI document, tenant sweep, regressions they found."""
