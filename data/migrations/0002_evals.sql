-- Inference jobs: one row per sampled answer, or per-problem counts where only counts exist.
CREATE TABLE eval_samples (
    run_id            VARCHAR NOT NULL,
    model             VARCHAR NOT NULL,
    benchmark         VARCHAR NOT NULL,
    problem_id        VARCHAR NOT NULL,
    sample_idx        BIGINT NOT NULL,
    correct           BOOLEAN NOT NULL,
    answer            VARCHAR,
    setting           VARCHAR,            -- e.g. thinking level label
    setting_knob      VARCHAR,            -- what the setting controls
    setting_value     DOUBLE,             -- its numeric value where it has one
    input_tokens      DOUBLE,
    reasoning_tokens  DOUBLE,             -- thinking tokens as reported (NULL if not reported separately)
    response_tokens   DOUBLE,             -- answer tokens excluding reasoning
    completion_tokens DOUBLE,             -- provider's output count (reasoning included or not: per provider)
    output_tokens     DOUBLE,             -- normalised total generated tokens (reasoning + answer)
    latency_s         DOUBLE,
    cost_usd          DOUBLE,
    n_tool_calls      DOUBLE,
    extra_json        JSON,
    file_id           BIGINT NOT NULL
);

CREATE TABLE eval_counts (
    run_id     VARCHAR NOT NULL,
    model      VARCHAR NOT NULL,
    benchmark  VARCHAR NOT NULL,
    problem_id VARCHAR NOT NULL,
    setting    VARCHAR,
    n_samples  BIGINT NOT NULL CHECK (n_samples > 0),
    n_correct  BIGINT NOT NULL CHECK (n_correct >= 0 AND n_correct <= n_samples),
    file_id    BIGINT NOT NULL
);
