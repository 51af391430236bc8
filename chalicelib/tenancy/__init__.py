"""Tenancy: merchants, API keys and per-merchant settings."""
