"""mtavg: the MTAVG-Bench 2.0 pipeline as a Dagster project."""
