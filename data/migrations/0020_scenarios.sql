-- Budget-simulator scenarios saved from `scaling simulate --save` or the Budget page (issue 9).
-- Units: budget in FLOPs or US dollars (budget_unit), FLOPs, US dollars, parameters, tokens; metric a fraction.
CREATE TABLE scenarios (
    scenario_id         VARCHAR PRIMARY KEY,  -- hash of (name, config_json)
    name                VARCHAR NOT NULL,
    kind                VARCHAR NOT NULL,     -- optimum | split | target | baseline
    budget_total        DOUBLE NOT NULL,
    budget_unit         VARCHAR NOT NULL,     -- flops | usd
    queries             DOUBLE NOT NULL,      -- lifetime queries Q
    prompt_tokens       DOUBLE,
    output_tokens       DOUBLE,
    law                 VARCHAR,              -- preset:NAME | stored:ID | fit:SOURCE
    rl                  VARCHAR,              -- preset:NAME | stored:ID | user:A,B,C_mid | none
    test_time_mode      VARCHAR,              -- pass@k | majority | none
    share_pretraining   DOUBLE NOT NULL,
    share_rl            DOUBLE NOT NULL,
    share_test_time     DOUBLE NOT NULL,
    n_params            DOUBLE,
    n_tokens            DOUBLE,
    samples_per_query   DOUBLE,
    metric              DOUBLE,
    metric_lo           DOUBLE,
    metric_hi           DOUBLE,
    p_beats_baseline    DOUBLE,               -- share of bootstrap replicates beating the baseline
    flops_total         DOUBLE,
    usd_total           DOUBLE,
    extrapolated        BOOLEAN,              -- any link outside the range its fit saw
    config_json         JSON NOT NULL,        -- every input needed to re-run the scenario
    result_json         JSON NOT NULL,        -- the full simulate payload
    created_at          TIMESTAMP NOT NULL
);

-- One row per saved scenario, newest first, with tokens per parameter.
CREATE OR REPLACE VIEW v_scenarios AS
SELECT scenario_id, name, kind, budget_total, budget_unit, queries, prompt_tokens, output_tokens, law, rl,
       test_time_mode, share_pretraining, share_rl, share_test_time, n_params, n_tokens,
       n_tokens / n_params AS tokens_per_param, samples_per_query, metric, metric_lo, metric_hi, p_beats_baseline,
       flops_total, usd_total, extrapolated, config_json, result_json, created_at
FROM scenarios ORDER BY created_at DESC;
