"""Software-defined assets of the benchmark pipeline, one module per stage."""

OWNERS = ["team:mtavg-bench"]  # maintainers of the benchmark pipeline, shown on every asset
