-- Every fit the app or CLI runs is recorded here (params, intervals, selection, method, backtest, replicates).
CREATE TABLE fits (
    fit_id          VARCHAR PRIMARY KEY,  -- hash of (axis, law, selection, options, code_version)
    axis            VARCHAR NOT NULL,     -- pretraining | rl | test_time
    law             VARCHAR NOT NULL,
    selection_json  JSON NOT NULL,        -- what data went in (source, filter, run ids count)
    params_json     JSON NOT NULL,
    intervals_json  JSON,                 -- {name: [lo, hi]} 95% bootstrap percentile intervals
    result_json     JSON NOT NULL,        -- full FitResult record
    replicates_json JSON,                 -- bootstrap replicates, aligned across keys
    backtest_json   JSON,
    checklist_json  JSON,                 -- reporting checklist (Li et al. 2025, arXiv 2502.18969)
    n_points        BIGINT,
    loss_fn         VARCHAR,
    delta           DOUBLE,
    optimizer       VARCHAR,
    n_starts        BIGINT,
    code_version    VARCHAR,
    created_at      TIMESTAMP NOT NULL
);
