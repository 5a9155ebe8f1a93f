"""Metric tables in DuckDB, built by one writer from the SQL files in `sql/`."""
