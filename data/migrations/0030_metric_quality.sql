-- Issue 10 "nothing lost, nothing invented": segments of a restarted step counter, flagged points, data quality.

-- Which run of the step counter a metric row belongs to: 0 first, +1 each time the counter restarts.
ALTER TABLE metrics ADD COLUMN segment INTEGER DEFAULT 0;

-- Points that are NOT metric rows, kept with why:
--   nonfinite : the value logged was NaN or +-Infinity (a gap: never a metric row, never used by a fit);
--   overlap   : the same (segment, step, metric) was logged again with another value (a resume); `value`/`line`
--               is the superseded record, `kept_value`/`kept_line` the later one, which is stored in metrics;
--   duplicate : the same point logged again with the same value; collapsed into one metric row.
CREATE TABLE metric_flags (
    run_id     VARCHAR NOT NULL,
    segment    INTEGER NOT NULL DEFAULT 0,
    step       BIGINT,
    metric     VARCHAR NOT NULL,
    flag       VARCHAR NOT NULL CHECK (flag IN ('nonfinite', 'overlap', 'duplicate')),
    value      DOUBLE,
    line       BIGINT,
    kept_value DOUBLE,
    kept_line  BIGINT,
    file_id    BIGINT NOT NULL
);

-- Skipped files are named in the ledger too; they are not hashed (a folder may hold large checkpoints).
ALTER TABLE ingest_files ALTER COLUMN content_sha256 DROP NOT NULL;

-- Final loss: the run's loss_metric at its summary row (step NULL) or else the last logged step of its last
-- segment. A run whose last logged loss is NaN/Inf (diverged) has no final loss.
CREATE OR REPLACE VIEW v_final_loss AS
WITH pts AS (
    SELECT m.run_id, m.segment, m.step, m.value FROM metrics m JOIN runs r ON r.run_id = m.run_id AND m.metric = r.loss_metric
    UNION ALL
    SELECT f.run_id, f.segment, f.step, f.value FROM metric_flags f JOIN runs r ON r.run_id = f.run_id AND f.metric = r.loss_metric
    WHERE f.flag = 'nonfinite'
), ranked AS (
    SELECT run_id, step, value,
           row_number() OVER (PARTITION BY run_id ORDER BY (step IS NULL) DESC, segment DESC, step DESC) AS rk
    FROM pts
)
SELECT r.run_id, r.kind, r.source, r.corpus, r.recipe, r.model_family,
       r.n_params, r.n_params_nonembed, r.n_tokens, r.compute_flops, r.compute_source, r.budget_flops,
       r.n_tokens / r.n_params AS tokens_per_param,
       r.loss_metric, k.value AS final_loss, k.step AS final_step
FROM runs r JOIN ranked k ON k.run_id = r.run_id AND k.rk = 1
WHERE isfinite(k.value);

-- Per-step loss curves of pretraining runs: the last segment of the step counter only (earlier segments stay
-- in metrics and are counted in v_data_quality).
CREATE OR REPLACE VIEW v_loss_curves AS
SELECT r.run_id, r.source, r.corpus, r.recipe, r.n_params, r.n_tokens AS n_tokens_planned,
       m.step, m.tokens_seen, coalesce(m.flops_seen, 6 * r.n_params * m.tokens_seen) AS flops_seen,
       m.value AS loss, m.segment
FROM metrics m JOIN runs r ON r.run_id = m.run_id AND m.metric = r.loss_metric
WHERE r.kind = 'pretrain' AND m.step IS NOT NULL
  AND m.segment = (SELECT max(m2.segment) FROM metrics m2 WHERE m2.run_id = m.run_id);

-- Per-step metrics of RL runs with their compute axes: the last segment of the step counter only.
CREATE OR REPLACE VIEW v_rl_curves AS
SELECT r.run_id, r.source, r.base_model, r.n_params, r.algorithm, r.recipe, r.reward_shaping, r.seed,
       m.metric, m.step, m.gpu_hours_seen, m.flops_seen, m.wall_time_s, m.value, m.segment
FROM metrics m JOIN runs r ON r.run_id = m.run_id
WHERE r.kind = 'rl' AND m.step IS NOT NULL
  AND m.segment = (SELECT max(m2.segment) FROM metrics m2 WHERE m2.run_id = m.run_id);

-- Data quality per (run, metric). Spike: an interior point of a segment (one logged point before and after it)
-- that lies more than 25% of the larger neighbour's magnitude away from BOTH neighbours, on the same side,
-- while the neighbours differ by less than a third of the smaller of those two jumps (it jumps and comes back).
-- Level shift: a jump J = |v_i - v_(i-1)| larger than 25% of max(|v_(i-1)|, |v_i|) between two stretches that
-- are each flat within J/3 (|v_(i-1) - v_(i-2)| < J/3 and |v_(i+1) - v_i| < J/3): it jumps and stays.
CREATE OR REPLACE VIEW v_data_quality AS
WITH seq AS (
    SELECT run_id, metric, segment, step, value,
           lag(value, 2) OVER w AS p2, lag(value) OVER w AS p1, lead(value) OVER w AS n1
    FROM metrics WHERE step IS NOT NULL
    WINDOW w AS (PARTITION BY run_id, metric, segment ORDER BY step)
), marks AS (
    SELECT run_id, metric,
           count(*) FILTER (
               WHERE p1 IS NOT NULL AND n1 IS NOT NULL
                 AND sign(value - p1) = sign(value - n1) AND sign(value - p1) <> 0
                 AND least(abs(value - p1), abs(value - n1)) > 0.25 * greatest(abs(p1), abs(n1))
                 AND abs(n1 - p1) < least(abs(value - p1), abs(value - n1)) / 3
           ) AS n_spikes,
           count(*) FILTER (
               WHERE p1 IS NOT NULL AND p2 IS NOT NULL AND n1 IS NOT NULL
                 AND abs(value - p1) > 0.25 * greatest(abs(p1), abs(value))
                 AND abs(p1 - p2) < abs(value - p1) / 3
                 AND abs(n1 - value) < abs(value - p1) / 3
           ) AS n_level_shifts
    FROM seq GROUP BY run_id, metric
), pts AS (
    SELECT run_id, metric, count(*) AS n_points,
           count(*) FILTER (WHERE value = 0) AS n_zero, max(step) AS last_step,
           list(DISTINCT segment) AS segs
    FROM metrics GROUP BY run_id, metric
), flags AS (
    SELECT run_id, metric,
           count(*) FILTER (WHERE flag = 'overlap') AS n_overlaps,
           count(*) FILTER (WHERE flag = 'duplicate') AS n_duplicates_collapsed,
           count(*) FILTER (WHERE flag = 'nonfinite') AS n_nonfinite,
           list(DISTINCT segment) AS segs
    FROM metric_flags GROUP BY run_id, metric
), resets AS (
    SELECT run_id, max(segment) AS n_resets
    FROM (SELECT run_id, segment FROM metrics UNION ALL SELECT run_id, segment FROM metric_flags)
    GROUP BY run_id
), keys AS (
    SELECT run_id, metric FROM pts UNION SELECT run_id, metric FROM flags
)
SELECT k.run_id, r.kind, r.source, k.metric,
       coalesce(p.n_points, 0) AS n_points,
       len(list_distinct(list_concat(coalesce(p.segs, []), coalesce(f.segs, [])))) AS n_segments,
       coalesce(rs.n_resets, 0) AS n_resets,
       coalesce(f.n_overlaps, 0) AS n_overlaps,
       coalesce(f.n_duplicates_collapsed, 0) AS n_duplicates_collapsed,
       coalesce(f.n_nonfinite, 0) AS n_nonfinite,
       coalesce(p.n_zero, 0) AS n_zero,
       coalesce(mk.n_spikes, 0) AS n_spikes,
       coalesce(mk.n_level_shifts, 0) AS n_level_shifts,
       p.last_step
FROM keys k
JOIN runs r ON r.run_id = k.run_id
LEFT JOIN pts p ON p.run_id = k.run_id AND p.metric = k.metric
LEFT JOIN flags f ON f.run_id = k.run_id AND f.metric = k.metric
LEFT JOIN resets rs ON rs.run_id = k.run_id
LEFT JOIN marks mk ON mk.run_id = k.run_id AND mk.metric = k.metric;
