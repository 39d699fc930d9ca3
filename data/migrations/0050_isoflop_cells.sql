-- Every cell of every isoFLOP profile, including runs that produced no final loss or stopped early, so Approach 2
-- can list what it excluded and why (v_isoflop_points keeps only runs with a positive final loss).
CREATE OR REPLACE VIEW v_isoflop_cells AS
SELECT r.run_id, r.source, r.corpus, r.recipe, r.budget_flops, r.n_params, r.n_tokens, r.compute_flops,
       f.final_loss AS loss,
       (SELECT max(m.tokens_seen) FROM metrics m
         WHERE m.run_id = r.run_id AND m.metric = r.loss_metric AND m.step IS NOT NULL) AS last_tokens_seen
FROM runs r LEFT JOIN v_final_loss f ON f.run_id = r.run_id
WHERE r.kind = 'pretrain' AND r.budget_flops > 0 AND r.n_params > 0;
