"""Exports of a metric build to standard formats (eee.py: Every Eval Ever 0.3.0)."""
