-- Temporal localization (Charades-STA convention): mIoU and R@1 at IoU 0.3/0.5/0.7, per model
-- overall and per dimension. Cells without an 'ok' span (both ends finite, start <= end) score
-- IoU 0. Intervals for mIoU and R@1@0.5 are in headline_metrics (50_uncertainty.sql). miou_strict
-- scores a span a judge read (parsed_by = 'judge') as 0, like an unparseable reply.
CREATE OR REPLACE TABLE temporal_metrics AS
SELECT
    model,
    coalesce(dimension, 'all') AS dimension,
    count(*) AS n_instances,
    count(*) FILTER (WHERE answered) AS n_answered,
    avg(iou) AS miou,
    avg(CASE WHEN parsed_by = 'judge' THEN 0.0 ELSE iou END) AS miou_strict,
    count(*) FILTER (WHERE parsed_by = 'judge') AS n_judged,
    avg((iou >= 0.3)::INT) AS r1_iou_0_3,
    avg((iou >= 0.5)::INT) AS r1_iou_0_5,
    avg((iou >= 0.7)::INT) AS r1_iou_0_7,
    count(*) FILTER (WHERE status = 'unparseable')::DOUBLE / count(*) AS unparseable_rate,
    count(*) FILTER (WHERE status IN ('error', 'timeout', 'rate_limited'))::DOUBLE / count(*) AS error_rate,
    count(*) FILTER (WHERE status = 'refused')::DOUBLE / count(*) AS refused_rate,
    count(*) FILTER (WHERE status = 'missing')::DOUBLE / count(*) AS missing_rate,
    count(*) FILTER (WHERE status = 'ok' AND NOT answered)::DOUBLE / count(*) AS invalid_span_rate
FROM scores
WHERE question_type = 'temporal'
GROUP BY GROUPING SETS ((model), (model, dimension));
