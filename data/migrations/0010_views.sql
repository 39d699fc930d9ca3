-- Public SQL interface (documented in README "SQL reference"; renaming one is a breaking change).

-- One row per run with counts of what was logged.
CREATE OR REPLACE VIEW v_runs AS
SELECT r.run_id, r.kind, r.source, r.model_family, r.base_model, r.n_params, r.n_params_nonembed, r.n_tokens,
       r.compute_flops, r.compute_source, r.budget_flops, r.corpus, r.recipe, r.algorithm, r.reward_shaping,
       r.seed, r.n_gpus, r.loss_metric, r.config_json, r.source_file, r.ingested_at,
       (SELECT count(*) FROM metrics m WHERE m.run_id = r.run_id) AS n_metric_rows,
       (SELECT max(m.step) FROM metrics m WHERE m.run_id = r.run_id) AS last_step
FROM runs r;

-- Final loss per run: the run's loss_metric at its summary row (step NULL) or else its last logged step.
CREATE OR REPLACE VIEW v_final_loss AS
WITH ranked AS (
    SELECT m.run_id, m.step, m.value,
           row_number() OVER (PARTITION BY m.run_id ORDER BY (m.step IS NULL) DESC, m.step DESC) AS rk
    FROM metrics m JOIN runs r ON r.run_id = m.run_id AND m.metric = r.loss_metric
)
SELECT r.run_id, r.kind, r.source, r.corpus, r.recipe, r.model_family,
       r.n_params, r.n_params_nonembed, r.n_tokens, r.compute_flops, r.compute_source, r.budget_flops,
       r.n_tokens / r.n_params AS tokens_per_param,
       r.loss_metric, k.value AS final_loss, k.step AS final_step
FROM runs r JOIN ranked k ON k.run_id = r.run_id AND k.rk = 1;

-- The points a pretraining fit uses: finished pretraining runs with positive N, D, C and loss.
CREATE OR REPLACE VIEW v_pretrain_points AS
SELECT run_id, source, corpus, recipe, model_family, n_params, n_params_nonembed, n_tokens, compute_flops,
       compute_source, budget_flops, tokens_per_param, loss_metric, final_loss AS loss
FROM v_final_loss
WHERE kind = 'pretrain' AND n_params > 0 AND n_tokens > 0 AND compute_flops > 0 AND final_loss > 0;

-- isoFLOP profiles: pretraining points that belong to a nominal budget.
CREATE OR REPLACE VIEW v_isoflop_points AS
SELECT budget_flops, run_id, source, corpus, recipe, n_params, n_tokens, compute_flops, loss
FROM v_pretrain_points WHERE budget_flops > 0;

-- Per-step loss curves of pretraining runs (the run's loss_metric), for the training-curve envelope.
CREATE OR REPLACE VIEW v_loss_curves AS
SELECT r.run_id, r.source, r.corpus, r.recipe, r.n_params, r.n_tokens AS n_tokens_planned,
       m.step, m.tokens_seen, coalesce(m.flops_seen, 6 * r.n_params * m.tokens_seen) AS flops_seen,
       m.value AS loss
FROM metrics m JOIN runs r ON r.run_id = m.run_id AND m.metric = r.loss_metric
WHERE r.kind = 'pretrain' AND m.step IS NOT NULL;

-- Per-step metrics of RL runs with their compute axes.
CREATE OR REPLACE VIEW v_rl_curves AS
SELECT r.run_id, r.source, r.base_model, r.n_params, r.algorithm, r.recipe, r.reward_shaping, r.seed,
       m.metric, m.step, m.gpu_hours_seen, m.flops_seen, m.wall_time_s, m.value
FROM metrics m JOIN runs r ON r.run_id = m.run_id
WHERE r.kind = 'rl' AND m.step IS NOT NULL;

-- Per-problem sample counts, from counts tables and from per-answer tables alike.
CREATE OR REPLACE VIEW v_eval_by_problem AS
SELECT run_id, model, benchmark, setting, problem_id, n_samples, n_correct FROM eval_counts
UNION ALL
SELECT run_id, model, benchmark, setting, problem_id, count(*) AS n_samples,
       sum(CASE WHEN correct THEN 1 ELSE 0 END) AS n_correct
FROM eval_samples GROUP BY run_id, model, benchmark, setting, problem_id;

-- One row per inference configuration (run, model, benchmark, setting): accuracy and mean token costs.
CREATE OR REPLACE VIEW v_eval_configs AS
SELECT run_id, model, benchmark, setting, any_value(setting_knob) AS setting_knob,
       any_value(setting_value) AS setting_value, count(DISTINCT problem_id) AS n_problems, count(*) AS n_answers,
       avg(CASE WHEN correct THEN 1.0 ELSE 0.0 END) AS accuracy,
       avg(input_tokens) AS mean_input_tokens, avg(reasoning_tokens) AS mean_reasoning_tokens,
       avg(output_tokens) AS mean_output_tokens, median(output_tokens) AS median_output_tokens,
       avg(latency_s) AS mean_latency_s, avg(cost_usd) AS mean_cost_usd
FROM eval_samples GROUP BY run_id, model, benchmark, setting;

-- The newest fit per (axis, law, selection).
CREATE OR REPLACE VIEW v_fits_latest AS
SELECT * EXCLUDE (rk) FROM (
    SELECT f.*, row_number() OVER (PARTITION BY axis, law, CAST(selection_json AS VARCHAR)
                                   ORDER BY created_at DESC) AS rk
    FROM fits f)
WHERE rk = 1;

-- Rejected records with the file they came from.
CREATE OR REPLACE VIEW v_rejects AS
SELECT source_file, line, reason, raw, rejected_at FROM rejects;
