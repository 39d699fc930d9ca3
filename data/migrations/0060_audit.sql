-- H8: curation of the store (`scaling label`, `scaling delete`, the Run explorer) is recorded here, one row per
-- changed field of a run (label) or per deleted run. Re-ingesting the run's file undoes the change: curated files
-- are marked status = 'curated' in ingest_files, so the next ingest of that path loads it again.
CREATE SEQUENCE IF NOT EXISTS audit_id_seq START 1;

CREATE TABLE IF NOT EXISTS audit_log (
    audit_id    BIGINT PRIMARY KEY DEFAULT nextval('audit_id_seq'),
    changed_at  TIMESTAMP NOT NULL,       -- UTC
    actor       VARCHAR,                  -- who: the signed-in e-mail in the app, --by or the OS user in the CLI
    via         VARCHAR NOT NULL,         -- cli | app
    action      VARCHAR NOT NULL CHECK (action IN ('label', 'delete')),
    run_id      VARCHAR NOT NULL,
    field       VARCHAR,                  -- label: the runs column; delete: NULL
    old_value   VARCHAR,                  -- label: previous value; delete: the run's row as JSON
    new_value   VARCHAR,                  -- label: new value; delete: NULL
    source_file VARCHAR                   -- file the run was ingested from (re-ingest it to undo)
);

-- One row per change made by `scaling label` / `scaling delete` or the Run explorer: who, when, what, and the
-- file to re-ingest to undo it.
CREATE OR REPLACE VIEW v_audit AS
SELECT audit_id, changed_at, actor, via, action, run_id, field, old_value, new_value, source_file
FROM audit_log;
