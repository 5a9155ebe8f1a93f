"""Prediction cells: cache keys, the crash-safe per-model store, and the async runner."""
