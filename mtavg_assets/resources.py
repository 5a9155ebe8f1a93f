"""Dagster resources: where the data lives (configuration, not code)."""

import os
from pathlib import Path

import dagster as dg

from mtavg_assets.locks import hold
from mtavg_assets.settings import DataLayout, configured_data_dir
from mtavg_assets.taxonomy import Taxonomy, load_taxonomy


class MtavgData(dg.ConfigurableResource):
    """The data directory holding clips, QA, the models registry, Parquet outputs and DuckDB."""

    data_dir: str | None = None  # None: MTAVG_DATA_DIR, read when the resource is used (not at import)

    @property
    def layout(self) -> DataLayout:
        return DataLayout(Path(self.data_dir).resolve() if self.data_dir else configured_data_dir())

    def taxonomy(self) -> Taxonomy:
        return load_taxonomy(self.layout.taxonomy_file)

    def lock(self, name: str, context, timeout_s: float = 3600.0):
        """Hold the data directory's lock `name` for this step, whatever launched the run; a second
        run waits (logging who holds it) and fails the step with that message after `timeout_s`."""
        holder = f"run {context.run_id} (pid {os.getpid()})"
        path = self.layout.locks_dir / f"{name}.lock"
        return hold(path, name, holder, timeout_s, context.log.warning, busy=step_failure)


def step_failure(message: str) -> dg.Failure:
    return dg.Failure(description=message, allow_retries=False)
