-- Issue 11 item 4: aggregated evaluation results (eval summary tables).

-- One row per line of an eval SUMMARY table (docs/FORMATS.md section 3b). Each line is stored as
-- one run of kind 'eval' (config_json.table_shape = 'eval_summary') whose numbers are summary metrics (step NULL),
-- so re-ingest and deletion follow the file like every other run. measure is 'accuracy' (share of problems
-- answered correctly, one answer each) or 'pass@k' (unbiased pass@k at k samples); value is that fraction.
CREATE OR REPLACE VIEW v_eval_summary AS
SELECT r.run_id, r.source, r.model_family AS model,
       json_extract_string(r.config_json, '$.benchmark') AS benchmark,
       coalesce(json_extract_string(r.config_json, '$.setting'), '') AS setting,
       json_extract_string(r.config_json, '$.setting_knob') AS setting_knob,
       max(m.value) FILTER (WHERE m.metric = 'setting_value') AS setting_value,
       json_extract_string(r.config_json, '$.measure') AS measure,
       CAST(max(m.value) FILTER (WHERE m.metric = 'k') AS BIGINT) AS k,
       max(m.value) FILTER (WHERE m.metric = 'value') AS value,
       CAST(max(m.value) FILTER (WHERE m.metric = 'n_problems') AS BIGINT) AS n_problems,
       CAST(max(m.value) FILTER (WHERE m.metric = 'n_samples') AS BIGINT) AS n_samples,
       max(m.value) FILTER (WHERE m.metric = 'mean_input_tokens') AS mean_input_tokens,
       max(m.value) FILTER (WHERE m.metric = 'mean_output_tokens') AS mean_output_tokens,
       max(m.value) FILTER (WHERE m.metric = 'cost_usd') AS cost_usd,
       r.source_file
FROM runs r JOIN metrics m ON m.run_id = r.run_id AND m.step IS NULL
WHERE r.kind = 'eval' AND json_extract_string(r.config_json, '$.table_shape') = 'eval_summary'
GROUP BY r.run_id, r.source, r.model_family, r.config_json, r.source_file;
