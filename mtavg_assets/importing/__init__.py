"""Importers: a downloaded release (any layout, described by a mapping file) into the contracts."""
