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

-- Data quality per (run, metric), computed by the loader when a file is ingested (data/ingest/quality.py holds
-- the rules: spikes and level shifts are judged against a rolling median and median absolute deviation).
CREATE TABLE metric_quality (
    run_id                 VARCHAR NOT NULL,
    metric                 VARCHAR NOT NULL,
    n_points               BIGINT NOT NULL,  -- finite values stored in metrics
    n_segments             BIGINT NOT NULL,  -- segments of the step counter this metric has values in
    n_resets               BIGINT NOT NULL,  -- restarts of the run's step counter (same on every row of a run)
    n_overlaps             BIGINT NOT NULL,
    n_duplicates_collapsed BIGINT NOT NULL,
    n_nonfinite            BIGINT NOT NULL,
    n_zero                 BIGINT NOT NULL,
    n_spikes               BIGINT NOT NULL,
    n_level_shifts         BIGINT NOT NULL,
    last_step              BIGINT,
    file_id                BIGINT NOT NULL
);

-- Per (run, metric): points stored, step-counter segments and resets, overlaps, collapsed duplicates,
-- non-finite gaps, zeros, spikes and level shifts (rules in docs/FORMATS.md).
CREATE OR REPLACE VIEW v_data_quality AS
SELECT q.run_id, r.kind, r.source, q.metric, q.n_points, q.n_segments, q.n_resets, q.n_overlaps,
       q.n_duplicates_collapsed, q.n_nonfinite, q.n_zero, q.n_spikes, q.n_level_shifts, q.last_step
FROM metric_quality q JOIN runs r ON r.run_id = q.run_id;

-- The curve views read the run's last segment; n_resets in metric_quality is the run's highest segment number
-- (a small table, so the views never scan all of metrics for it).

-- Per-step loss curves of pretraining runs: the last segment of the step counter only (earlier segments stay
-- in metrics and are counted in v_data_quality).
CREATE OR REPLACE VIEW v_loss_curves AS
SELECT r.run_id, r.source, r.corpus, r.recipe, r.n_params, r.n_tokens AS n_tokens_planned,
       m.step, m.tokens_seen, coalesce(m.flops_seen, 6 * r.n_params * m.tokens_seen) AS flops_seen,
       m.value AS loss, m.segment
FROM metrics m JOIN runs r ON r.run_id = m.run_id AND m.metric = r.loss_metric
WHERE r.kind = 'pretrain' AND m.step IS NOT NULL
  AND m.segment = coalesce((SELECT max(q.n_resets) FROM metric_quality q WHERE q.run_id = m.run_id), 0);

-- Per-step metrics of RL runs with their compute axes: the last segment of the step counter only.
CREATE OR REPLACE VIEW v_rl_curves AS
SELECT r.run_id, r.source, r.base_model, r.n_params, r.algorithm, r.recipe, r.reward_shaping, r.seed,
       m.metric, m.step, m.gpu_hours_seen, m.flops_seen, m.wall_time_s, m.value, m.segment
FROM metrics m JOIN runs r ON r.run_id = m.run_id
WHERE r.kind = 'rl' AND m.step IS NOT NULL
  AND m.segment = coalesce((SELECT max(q.n_resets) FROM metric_quality q WHERE q.run_id = m.run_id), 0);
