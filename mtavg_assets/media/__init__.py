"""Clip inspection (ffprobe) and derived media inputs for evaluators."""
