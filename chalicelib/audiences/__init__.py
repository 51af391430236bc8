"""Audiences."""
