-- Issue 12 (scale): v_final_loss ranked every run's loss points before a page filtered by source. The runs'
-- descriptive columns now travel inside the ranked relation and are window partition keys (partition keys are
-- functionally dependent on run_id, so the ranking is unchanged), which lets DuckDB push a filter on source,
-- kind, corpus, ... below the window (see EXPLAIN in benchmarks/bench_queries.py). Public columns are identical.

-- Final loss per run: the run's loss_metric at its summary row (step NULL) or else the last logged step of its
-- last segment; a run whose last logged loss is NaN/Inf (diverged) has none.
CREATE OR REPLACE VIEW v_final_loss AS
WITH pts AS (
    SELECT r.run_id, r.kind, r.source, r.corpus, r.recipe, r.model_family, m.segment, m.step, m.value
    FROM metrics m JOIN runs r ON r.run_id = m.run_id AND m.metric = r.loss_metric
    UNION ALL
    SELECT r.run_id, r.kind, r.source, r.corpus, r.recipe, r.model_family, f.segment, f.step, f.value
    FROM metric_flags f JOIN runs r ON r.run_id = f.run_id AND f.metric = r.loss_metric
    WHERE f.flag = 'nonfinite'
), ranked AS (
    SELECT run_id, kind, source, corpus, recipe, model_family, step, value,
           row_number() OVER (PARTITION BY run_id, kind, source, corpus, recipe, model_family
                              ORDER BY (step IS NULL) DESC, segment DESC, step DESC) AS rk
    FROM pts
)
SELECT r.run_id, k.kind, k.source, k.corpus, k.recipe, k.model_family,
       r.n_params, r.n_params_nonembed, r.n_tokens, r.compute_flops, r.compute_source, r.budget_flops,
       r.n_tokens / r.n_params AS tokens_per_param,
       r.loss_metric, k.value AS final_loss, k.step AS final_step
FROM runs r JOIN ranked k ON k.run_id = r.run_id AND k.rk = 1
WHERE isfinite(k.value);
