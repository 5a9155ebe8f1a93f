-- Source tables, loaded from the pipeline's Parquet files as one consistent snapshot.
-- The pipeline sets the variable mtavg_data_dir; from the DuckDB CLI in the repository root the
-- default ./data is used:  duckdb data/mtavg.duckdb < sql/00_sources.sql
CREATE OR REPLACE TABLE qa_instances AS
SELECT * FROM read_parquet(coalesce(getvariable('mtavg_data_dir'), 'data') || '/derived/validated_qa.parquet');

CREATE OR REPLACE TABLE qa_rejects AS
SELECT * FROM read_parquet(coalesce(getvariable('mtavg_data_dir'), 'data') || '/derived/qa_rejects.parquet');

CREATE OR REPLACE TABLE clips AS
SELECT * FROM read_parquet(coalesce(getvariable('mtavg_data_dir'), 'data') || '/derived/clip_catalog.parquet');

CREATE OR REPLACE TABLE clip_rejects AS
SELECT * FROM read_parquet(coalesce(getvariable('mtavg_data_dir'), 'data') || '/derived/clip_rejects.parquet');

CREATE OR REPLACE TABLE models AS
SELECT * FROM read_parquet(coalesce(getvariable('mtavg_data_dir'), 'data') || '/derived/model_registry.parquet');

-- One Parquet dataset per model partition (written by the predictions asset).
CREATE OR REPLACE TABLE predictions AS
SELECT * FROM read_parquet(coalesce(getvariable('mtavg_data_dir'), 'data') || '/predictions/*/predictions.parquet',
                           union_by_name = true);
