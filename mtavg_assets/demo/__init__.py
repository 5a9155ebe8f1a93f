"""Synthetic demo benchmark: rendered multi-talker clips with injected, known failures."""
