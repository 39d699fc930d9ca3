-- H7 (issue 11 item 5): v_rl_curves gains tokens_seen for `scaling fit rl --x tokens`, appended last so existing
-- columns keep their names and order. Same rows as 0030's definition: the last segment of each run's step counter.

-- Per-step metrics of RL runs with their compute axes (GPU-hours, FLOPs, tokens, wall time): the last segment
-- of the step counter only.
CREATE OR REPLACE VIEW v_rl_curves AS
SELECT r.run_id, r.source, r.base_model, r.n_params, r.algorithm, r.recipe, r.reward_shaping, r.seed,
       m.metric, m.step, m.gpu_hours_seen, m.flops_seen, m.wall_time_s, m.value, m.segment, m.tokens_seen
FROM metrics m JOIN runs r ON r.run_id = m.run_id
WHERE r.kind = 'rl' AND m.step IS NOT NULL
  AND m.segment = coalesce((SELECT max(q.n_resets) FROM metric_quality q WHERE q.run_id = m.run_id), 0);
