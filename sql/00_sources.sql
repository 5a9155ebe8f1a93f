-- Source tables, loaded from the pipeline's Parquet files as one consistent snapshot.
-- The pipeline sets the variables mtavg_data_dir and mtavg_prediction_files (the exact list of
-- prediction files, so no path is ever read as a glob pattern); from the DuckDB CLI in the
-- repository root the defaults ./data and its predictions/*/predictions.parquet are used:
--   duckdb data/mtavg.duckdb < sql/00_sources.sql
CREATE OR REPLACE TABLE qa_instances AS
SELECT * FROM read_parquet(coalesce(getvariable('mtavg_data_dir'), 'data') || '/derived/validated_qa.parquet');

CREATE OR REPLACE TABLE qa_rejects AS
SELECT * FROM read_parquet(coalesce(getvariable('mtavg_data_dir'), 'data') || '/derived/qa_rejects.parquet');

CREATE OR REPLACE TABLE clips AS
SELECT * FROM read_parquet(coalesce(getvariable('mtavg_data_dir'), 'data') || '/derived/clip_catalog.parquet');

CREATE OR REPLACE TABLE clip_rejects AS
SELECT * FROM read_parquet(coalesce(getvariable('mtavg_data_dir'), 'data') || '/derived/clip_rejects.parquet');

-- Every entry of models.yaml (status 'active' or 'invalid' with its reason) and every model that
-- still has predictions on disk but is no longer registered (status 'retired').
CREATE OR REPLACE TABLE models AS
SELECT * FROM read_parquet(coalesce(getvariable('mtavg_data_dir'), 'data') || '/derived/model_registry.parquet');
-- registries written before modality ablations existed
ALTER TABLE models ADD COLUMN IF NOT EXISTS ablation_of VARCHAR;
ALTER TABLE models ADD COLUMN IF NOT EXISTS ablation VARCHAR;
ALTER TABLE models ADD COLUMN IF NOT EXISTS repeat_of VARCHAR;
ALTER TABLE models ADD COLUMN IF NOT EXISTS repeat INTEGER;
-- Copies of an entry that the registry makes itself (modality ablations, repeats): controls read in
-- modality_reliance and stability, never ranked or compared pairwise.
CREATE OR REPLACE VIEW entry_copies AS
SELECT DISTINCT name FROM models WHERE ablation_of IS NOT NULL OR repeat_of IS NOT NULL;

-- What produced each evaluation run (predictions/manifest.py): code and package versions, the
-- resolved entry (key names only), template hashes, parser version, served models, start and end,
-- counts and cost. Nested values are JSON text.
CREATE OR REPLACE TABLE runs AS
SELECT * FROM read_parquet(coalesce(getvariable('mtavg_data_dir'), 'data') || '/derived/runs.parquet');

-- Every row of every prediction file, with the folder it was read from and its rank among the
-- copies of its key (copies in the model's own folder first, then the latest).
CREATE OR REPLACE TEMP TABLE prediction_rows AS
WITH files AS (
    SELECT
        -- (model, instance_id, rotation) is the key; a row written before rotations existed is rotation 0
        * EXCLUDE (filename, rotation),
        coalesce(rotation, 0)::BIGINT AS rotation,
        regexp_extract(replace(filename, '\', '/'), '([^/]+)/predictions\.parquet$', 1) AS folder,
        filename AS source_file
    FROM read_parquet(
        coalesce(
            getvariable('mtavg_prediction_files'),
            [coalesce(getvariable('mtavg_data_dir'), 'data') || '/predictions/*/predictions.parquet']
        ),
        union_by_name = true, filename = true
    )
)
SELECT
    * EXCLUDE (source_file),
    row_number() OVER (
        PARTITION BY model, instance_id, rotation
        ORDER BY model IS NOT DISTINCT FROM folder DESC, created_at DESC NULLS LAST, cache_key DESC NULLS LAST,
                 status, source_file
    ) AS copy_rank
FROM files;

-- (model, instance_id, rotation) is the key of a prediction. A row counts only when it sits in its
-- own model's folder, is the latest copy of its key and belongs to an active registry entry;
-- every other row is listed here with the reason, and never scored.
CREATE OR REPLACE TEMP TABLE model_status AS
SELECT name, CASE WHEN bool_or(m.status = 'active') THEN 'active' ELSE min(m.status) END AS model_status
FROM models m GROUP BY name;

-- The current cache key of every cell an active entry answers (written by the metric build from
-- the registry and validated_qa): a row asked under another key is stale.
CREATE OR REPLACE TEMP TABLE current_keys AS
SELECT * FROM read_parquet(coalesce(getvariable('mtavg_data_dir'), 'data') || '/derived/cell_keys.parquet');

CREATE OR REPLACE TEMP TABLE prediction_rows_keyed AS
SELECT r.*, k.cache_key IS NOT NULL AS current_cell, coalesce(k.cache_key = r.cache_key, false) AS current_key
FROM prediction_rows r
LEFT JOIN current_keys k
       ON k.model = r.model AND k.instance_id = r.instance_id AND k.rotation = r.rotation;

CREATE OR REPLACE TABLE prediction_exclusions AS
SELECT folder, model, instance_id, rotation, status, created_at, reason
FROM (
    SELECT
        r.*,
        CASE
            WHEN r.model IS DISTINCT FROM r.folder THEN 'model column does not match its folder ' || r.folder
            WHEN r.copy_rank > 1 THEN 'duplicate of (model, instance_id, rotation): a later copy is scored'
            WHEN coalesce(s.model_status, 'retired') <> 'active' THEN 'model is ' || coalesce(s.model_status, 'retired')
            WHEN NOT r.current_cell THEN 'not a cell of the entry now (instance not valid, or rotation not asked)'
            WHEN NOT r.current_key THEN 'stale: asked under an earlier configuration of the entry or content of '
                                        || 'the instance (not its current cache key)'
        END AS reason
    FROM prediction_rows_keyed r
    LEFT JOIN model_status s ON s.name = r.model
)
WHERE reason IS NOT NULL;

CREATE OR REPLACE TABLE predictions AS
SELECT r.* EXCLUDE (folder, copy_rank, current_key, current_cell)
FROM prediction_rows_keyed r
JOIN model_status s ON s.name = r.model AND s.model_status = 'active'
WHERE r.model = r.folder AND r.copy_rank = 1 AND r.current_key;
-- Files written before these columns existed read as rules-parsed rows.
ALTER TABLE predictions ADD COLUMN IF NOT EXISTS parsed_by VARCHAR;
ALTER TABLE predictions ADD COLUMN IF NOT EXISTS parser_version VARCHAR;
ALTER TABLE predictions ADD COLUMN IF NOT EXISTS served_model VARCHAR;

DROP TABLE model_status;
DROP TABLE prediction_rows_keyed;
DROP TABLE prediction_rows;
DROP TABLE current_keys;
