-- Base tables written by ingest. Units are in column names or documented in README "SQL reference".
CREATE SEQUENCE IF NOT EXISTS file_id_seq START 1;

CREATE TABLE ingest_files (
    file_id        BIGINT PRIMARY KEY,
    path           VARCHAR NOT NULL,      -- absolute path at ingest time
    content_sha256 VARCHAR NOT NULL,
    format         VARCHAR,               -- jsonl_run_log | run_table | eval_samples | eval_counts | verl_log
    status         VARCHAR NOT NULL,      -- loaded | failed
    n_runs         BIGINT NOT NULL DEFAULT 0,
    n_rows         BIGINT NOT NULL DEFAULT 0,
    n_rejects      BIGINT NOT NULL DEFAULT 0,
    message        VARCHAR,
    ingested_at    TIMESTAMP NOT NULL
);

CREATE TABLE runs (
    run_id            VARCHAR PRIMARY KEY,
    kind              VARCHAR NOT NULL CHECK (kind IN ('pretrain', 'rl', 'eval')),
    source            VARCHAR,            -- sweep / study name
    model_family      VARCHAR,
    base_model        VARCHAR,            -- RL: starting checkpoint
    n_params          DOUBLE,             -- N, total parameters
    n_params_nonembed DOUBLE,             -- N without embeddings
    n_tokens          DOUBLE,             -- D, training tokens
    compute_flops     DOUBLE,             -- C, FLOPs
    compute_source    VARCHAR CHECK (compute_source IS NULL OR compute_source IN ('6ND', 'measured')),
    budget_flops      DOUBLE,             -- nominal isoFLOP budget, FLOPs
    corpus            VARCHAR,            -- data mix
    recipe            VARCHAR,
    algorithm         VARCHAR,
    reward_shaping    VARCHAR,
    seed              BIGINT,
    n_gpus            BIGINT,
    loss_metric       VARCHAR,            -- which metric is the run's loss for pretraining fits
    config_json       JSON,
    file_id           BIGINT NOT NULL,
    source_file       VARCHAR NOT NULL,
    source_line       BIGINT,
    ingested_at       TIMESTAMP NOT NULL
);

-- Long format: one row per (run, step, metric). step IS NULL for a final/summary value.
CREATE TABLE metrics (
    run_id         VARCHAR NOT NULL,
    step           BIGINT,
    tokens_seen    DOUBLE,                -- tokens
    flops_seen     DOUBLE,                -- FLOPs so far
    gpu_hours_seen DOUBLE,                -- GPU-hours so far
    wall_time_s    DOUBLE,                -- seconds so far
    metric         VARCHAR NOT NULL,
    value          DOUBLE NOT NULL,
    file_id        BIGINT NOT NULL
);

CREATE TABLE rejects (
    file_id     BIGINT,
    source_file VARCHAR NOT NULL,
    line        BIGINT NOT NULL,          -- 1-based; 0 = the whole file
    raw         VARCHAR,
    reason      VARCHAR NOT NULL,
    rejected_at TIMESTAMP NOT NULL
);
