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

st.subheader("Data quality")
dq = cache.q("data_quality_totals")
flagged = cache.q("data_quality", True, 500)
c = st.columns(4)
c[0].metric("points stored", f"{dq['n_points']:,}")
c[1].metric("step-counter restarts", f"{dq['n_resets']:,}")
c[2].metric("overlaps (later kept)", f"{dq['n_overlaps']:,}")
c[3].metric("duplicates collapsed", f"{dq['n_duplicates_collapsed']:,}")
c = st.columns(4)
c[0].metric("NaN/Inf gaps", f"{dq['n_nonfinite']:,}")
c[1].metric("spikes", f"{dq['n_spikes']:,}")
c[2].metric("level shifts", f"{dq['n_level_shifts']:,}")
c[3].metric("series with a flag", f"{flagged.height:,} of {dq['n_series']:,}")
st.caption(
    "Per run and metric (`v_data_quality`). A restart of the step counter starts a new segment (curve fits use "
    "the last one); an overlap is a point logged again with another value (a resume: the later value is kept); "
    "NaN/Inf are stored as gaps that no fit and no final loss uses. Spike: a point more than 6 median absolute "
    "deviations from the median of the 11 points around it; level shift: the median of the next 5 points departs "
    "from that of the previous 5 by more than 6 deviations in one jump (README, SQL reference)."
)
if flagged.height == 0:
    st.success(f"No flags in {dq['n_series']:,} series.")
else:
    n = st.column_config.NumberColumn
    st.dataframe(
        flagged,
        hide_index=True,
        width="stretch",
        key="overview.data_quality",
        column_order=(
            "run_id",
            "metric",
            "n_points",
            "n_spikes",
            "n_level_shifts",
            "n_nonfinite",
            "n_overlaps",
            "n_duplicates_collapsed",
            "n_resets",
            "n_segments",
            "n_zero",
            "last_step",
            "source",
            "kind",
        ),
        column_config={
            "run_id": st.column_config.TextColumn("run", width="medium"),
            "n_points": n("points", format="%d"),
            "n_spikes": n("spikes", format="%d"),
            "n_level_shifts": n("level shifts", format="%d"),
            "n_nonfinite": n("NaN/Inf", format="%d"),
            "n_overlaps": n("overlaps", format="%d"),
            "n_duplicates_collapsed": n("duplicates", format="%d"),
            "n_resets": n("restarts", format="%d"),
            "n_segments": n("segments", format="%d"),
            "n_zero": n("zeros", format="%d"),
            "last_step": n("last step", format="%d"),
        },
    )

gaps = cache.q("fit_gaps")
if gaps.height:
    st.subheader("Runs a scaling fit cannot use yet")
    st.caption(
        f"{gaps.height} pretraining runs loaded without N, D, C or a loss (their tool did not log them). Fits skip "
        "them. Add the values in a side-car file `scaling_run.json` next to the logs, e.g. "
        '`{"n_params": 1.2e8, "n_tokens": 2.5e9}` (or per run under `"runs"`), and ingest again; C = 6ND is filled '
        "in. See README, 'Side-car file'."
    )
    st.dataframe(
        gaps.with_columns(pl.col("source_file").str.split("/").list.slice(-2).list.join("/")),
        hide_index=True,
        width="stretch",
        key="overview.fit_gaps",
        column_config={"source_file": st.column_config.TextColumn("file or run folder (last two parts)")},
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
