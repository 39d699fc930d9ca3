"""Overview: what is in the store, when it was ingested, and what was rejected and why."""

import polars as pl
import streamlit as st

from app import cache, widgets

st.title("Overview")
totals = cache.q("totals")
c = st.columns(5)
c[0].metric("runs", f"{totals['runs']:,}")
c[1].metric("metric rows", f"{totals['metrics']:,}")
c[2].metric("eval answers", f"{totals['eval_samples']:,}")
c[3].metric("eval problem counts", f"{totals['eval_counts']:,}")
c[4].metric("rejected records", f"{totals['rejects']:,}")
last = cache.q("last_ingest")
st.caption(
    f"Last ingest: {last:%Y-%m-%d %H:%M:%S} UTC · {totals['ingest_files']} files in the ledger · "
    f"{totals['fits']} stored fits"
    if last
    else "Nothing ingested yet."
)

st.subheader("Runs by kind and source")
widgets.table(
    cache.q("run_counts"),
    "runs_by_source",
    width="stretch",
    key="overview.runs",
    column_config={
        "n_runs": st.column_config.NumberColumn("runs", format="%d"),
        "first_ingested": st.column_config.DatetimeColumn(
            "first ingested (UTC)", format="YYYY-MM-DD HH:mm:ss"
        ),
        "last_ingested": st.column_config.DatetimeColumn("last ingested (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    },
)

st.subheader("Rejected records")
rej = cache.q("rejects", 500)
if rej.height == 0:
    st.success("No rejected records.")
else:
    st.caption(
        "Each row names the file, the 1-based line (0 = the whole file could not be parsed) and the reason. "
        "The good records next to them were loaded."
    )
    widgets.table(
        rej.with_columns(pl.col("source_file").str.split("/").list.slice(-2).list.join("/")),
        "rejected_records",
        data=rej,
        width="stretch",
        key="overview.rejects",
        column_order=("source_file", "line", "reason", "rejected_at", "raw"),  # the long raw JSON last
        column_config={
            "source_file": st.column_config.TextColumn("file (folder/name)", width="medium"),
            "line": st.column_config.NumberColumn("line", format="%d", width="small"),
            "reason": st.column_config.TextColumn("reason", width="large"),
            "raw": st.column_config.TextColumn("raw record", width="medium"),
            "rejected_at": st.column_config.DatetimeColumn("rejected (UTC)", format="YYYY-MM-DD HH:mm"),
        },
    )

changes = cache.service("data.curate:audit", None, 200)
with st.expander(f"Changes to runs: label and delete ({changes.height} newest)"):
    if changes.height == 0:
        st.caption("No run was relabelled or deleted (`scaling label`, `scaling delete`, the Run explorer).")
    else:
        widgets.table(
            changes.drop("old_value"),
            "audit",
            data=changes,
            key="overview.audit",
            width="stretch",
            column_config={"actor": "who", "changed_at": st.column_config.DatetimeColumn("when (UTC)")},
        )
        st.caption("Re-ingesting a run's file undoes its changes; the trail stays (view v_audit).")

with st.expander("Ingest ledger"):
    widgets.table(cache.q("ingest_files"), "ingest_ledger", width="stretch", key="overview.ledger")
