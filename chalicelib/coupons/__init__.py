"""Coupons."""
