"""Dagster resources: where the data lives (configuration, not code)."""

from pathlib import Path

import dagster as dg

from mtavg_assets.settings import DataLayout, configured_data_dir
from mtavg_assets.taxonomy import Taxonomy, load_taxonomy


class MtavgData(dg.ConfigurableResource):
    """The data directory holding clips, QA, the models registry, Parquet outputs and DuckDB."""

    data_dir: str = str(configured_data_dir())

    @property
    def layout(self) -> DataLayout:
        return DataLayout(Path(self.data_dir).resolve())

    def taxonomy(self) -> Taxonomy:
        return load_taxonomy(self.layout.taxonomy_file)
