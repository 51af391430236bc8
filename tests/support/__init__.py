"""Shared test builders and doubles (imported by tests; none of them is a test)."""
