"""Precision-marketing engine: the packages behind app.py."""
