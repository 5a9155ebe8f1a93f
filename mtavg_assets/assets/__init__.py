"""Software-defined assets of the benchmark pipeline, one module per stage."""
