"""Overview: what is in the store, when it was ingested, and what was rejected and why."""

import polars as pl
import streamlit as st

from app import cache

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
st.dataframe(
    cache.q("run_counts"),
    hide_index=True,
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
    st.dataframe(
        rej.with_columns(pl.col("source_file").str.split("/").list.slice(-2).list.join("/")),
        hide_index=True,
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

st.subheader("Data quality")
dq = cache.q("data_quality_totals")
c = st.columns(6)
c[0].metric("points stored", f"{dq['n_points']:,}")
c[1].metric("step-counter restarts", f"{dq['n_resets']:,}")
c[2].metric("overlaps (later kept)", f"{dq['n_overlaps']:,}")
c[3].metric("duplicates collapsed", f"{dq['n_duplicates_collapsed']:,}")
c[4].metric("NaN/Inf gaps", f"{dq['n_nonfinite']:,}")
c[5].metric("spikes / level shifts", f"{dq['n_spikes']:,} / {dq['n_level_shifts']:,}")
st.caption(
    "Per run and metric (`v_data_quality`). A restart starts a new segment (fits use the last one); an overlap "
    "is a point logged again with another value (a resume; the later value is kept); NaN/Inf are stored as gaps "
    "that no fit and no final loss uses. Spike: one point more than 25% of the level away from both neighbours "
    "that comes back; level shift: a jump of more than 25% between two flat stretches (README, SQL reference)."
)
flagged = cache.q("data_quality", True, 500)
if flagged.height == 0:
    st.success(f"No flags in {dq['n_series']:,} series.")
else:
    st.dataframe(
        flagged,
        hide_index=True,
        width="stretch",
        key="overview.data_quality",
        column_order=(
            "run_id",
            "metric",
            "n_points",
            "n_segments",
            "n_resets",
            "n_overlaps",
            "n_duplicates_collapsed",
            "n_nonfinite",
            "n_zero",
            "n_spikes",
            "n_level_shifts",
            "source",
            "kind",
            "last_step",
        ),
    )

with st.expander("Ingest ledger"):
    st.dataframe(cache.q("ingest_files"), hide_index=True, width="stretch")
