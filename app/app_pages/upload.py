"""Upload: add run-log files from the browser through the same ingest as `scaling ingest` (validation, rejects,
ledger), within a size limit and, when sign-in is on, only for the allow-list."""

import streamlit as st

from app import access, cache, widgets
from app.services.upload import ingest_uploads

K = "upload."
st.title("Upload run logs")
st.caption(
    "Every format `scaling ingest` reads: JSON Lines run logs, per-run tables (CSV/Parquet), eval tables, verl "
    "console logs, and the tracker exports it understands (zip a folder to upload it whole). Bad records go to "
    "the reject report with file, line and reason while the rest loads; a file whose content was already loaded "
    "adds nothing. See README, 'Using your own logs'."
)
ok, why = access.may_write()
st.caption(why)
if not ok:
    st.warning(why)
    st.stop()
limit = cache.settings().upload_max_mb
with st.form(K + "form", clear_on_submit=True):
    source = st.text_input(
        "Source (sweep or study name; the default source of runs whose files do not name one)",
        "uploaded",
        key=K + "source",
    )
    files = st.file_uploader(
        f"Files (at most {limit:g} MB in total, SCALING_UPLOAD_MAX_MB)",
        accept_multiple_files=True,
        key=K + "files",
    )
    submitted = st.form_submit_button("Ingest", type="primary")
if submitted:
    path = cache.db_state()[0]
    with st.spinner(f"Ingesting {len(files or [])} file(s) into {path} ..."):
        try:
            res = ingest_uploads(path, [(f.name, f.getvalue()) for f in files or []], source, limit)
        except ValueError as e:
            st.error(f"Nothing ingested: {e}")
            st.stop()
    widgets.store_changed()
    c = res["counts"]
    msg = (
        f"{c['loaded']} loaded, {c['unchanged']} unchanged, {c['failed']} failed, {c['skipped']} skipped; "
        f"{res['n_rejects']} rejected records."
    )
    (st.error if c["failed"] else st.warning if res["n_rejects"] else st.success)(msg)
    widgets.table(res["report"], "upload_report", key=K + "report", width="stretch")
    if res["n_rejects"]:
        st.caption(
            "The rejected records (file, line, reason) are listed on the Overview page and in v_rejects."
        )
    if c["loaded"]:
        st.caption("Every page now shows the new runs (they reopen the store when it changes).")

with st.expander("Ingest ledger (newest first)"):
    widgets.table(cache.q("ingest_files"), "ingest_ledger", key=K + "ledger", width="stretch")
