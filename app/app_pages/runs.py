"""Run explorer: one run's metadata, every metric's curve (any x axis, log or linear), data-quality flags, the fits
that used it, other runs overlaid, and the audit trail of label/delete changes."""

import polars as pl
import streamlit as st

from app import access, cache, charts_runs, widgets
from app.services import curation
from app.services import runs as svc
from data.curate import LABEL_COLUMNS

K = "runs."
st.title("Run explorer")
facets = cache.service("data.run_explorer:run_facets")
if facets.height == 0:
    st.info("No runs yet. Ingest some (README, 'Using your own logs') or upload files on the Upload page.")
    st.stop()

c1, c2, c3, c4 = st.columns(4)
kinds = sorted(facets["kind"].unique().to_list())
kind = c1.selectbox("Kind", ["all", *kinds], key=K + "kind")
f = facets if kind == "all" else facets.filter(pl.col("kind") == kind)
source = c2.selectbox(
    "Source", ["all", *sorted(f["source"].drop_nulls().unique().to_list())], key=K + "source"
)
f = f if source == "all" else f.filter(pl.col("source") == source)
recipes = sorted(f["recipe"].drop_nulls().unique().to_list())
recipe = c3.selectbox("Recipe", ["all", *recipes], key=K + "recipe") if recipes else "all"
n_text = c4.text_input("N between (params, e.g. 1e8-1e9)", "", key=K + "n_range")
try:
    bounds = [float(v) for v in n_text.replace(" ", "").split("-", 1)] if n_text.strip() else [None, None]
    n_min, n_max = (bounds + [None])[:2]
except ValueError:
    st.error(f"'{n_text}' is not a range of N; write e.g. 1e8-1e9")
    n_min = n_max = None
table = cache.service(
    "data.run_explorer:runs",
    None if kind == "all" else kind,
    None if source == "all" else source,
    None if recipe == "all" else recipe,
    n_min,
    n_max,
)
if table.height == 0:
    st.info("No run matches these filters.")
    st.stop()
ids = table["run_id"].to_list()
labels = {
    r["run_id"]: r["run_id"] + (f"  (N = {widgets.human(r['n_params'])})" if r["n_params"] else "")
    for r in table.select("run_id", "n_params").iter_rows(named=True)
}
# default: the run with the most logged metric rows among those with per-step curves
with_steps = (
    table.filter(pl.col("last_step").is_not_null()).sort("n_metric_rows", descending=True)["run_id"].to_list()
)
run_id = st.selectbox(
    f"Run ({len(ids):,} match)",
    ids,
    index=ids.index(with_steps[0]) if with_steps else 0,
    key=K + "run",
    format_func=labels.get,
)
overlay = st.multiselect(
    "Overlay runs",
    [i for i in ids if i != run_id],
    key=K + "overlay",
    max_selections=11,
    format_func=labels.get,
)
run = table.filter(pl.col("run_id") == run_id).row(0, named=True)
shown_ids = (run_id, *overlay)

left, right = st.columns([1, 2])
with left:
    st.subheader("Metadata")
    widgets.table(svc.metadata(run), f"run_{run_id}_metadata", data=table.filter(pl.col("run_id") == run_id))
    summary = cache.service("data.run_explorer:summary_metrics", run_id)
    if summary.height:
        st.caption("Summary values (logged once per run)")
        widgets.table(summary, f"run_{run_id}_summary", key=K + "summary")
with right:
    st.subheader("Curves")
    metrics = cache.service("data.run_explorer:run_metrics", list(shown_ids))
    if metrics.height == 0:
        st.info(
            "These runs logged no per-step metrics (only summary values, see the metadata and v_final_loss)."
        )
    else:
        names = metrics["metric"].to_list()
        default = svc.default_metric(run, names)
        metric = st.selectbox("Metric", names, index=names.index(default), key=K + "metric")
        row = metrics.filter(pl.col("metric") == metric).row(0, named=True)
        xs = svc.x_options(row)
        c1, c2, c3 = st.columns([3, 1, 1])
        x = c1.radio("x axis", xs, key=K + "x", horizontal=True, format_func=lambda k: svc.X_AXES[k][1])
        log_x = c2.checkbox("log x", value=x != "step", key=K + "log_x")
        log_y = c3.checkbox("log y", value=False, key=K + "log_y")
        res = cache.service("app.services.runs:curves", shown_ids, metric, x, log_x, log_y)
        widgets.chart(
            charts_runs.curve_chart(
                res.curves,
                x_key=x,
                x_title=svc.X_AXES[x][1] + (" (log)" if log_x else ""),
                y_title=metric,
                log_x=log_x,
                log_y=log_y,
                title=f"{metric} vs {svc.X_AXES[x][1]}",
            ),
            f"run_{run_id}_{metric}_vs_{x}",
            data=res.curves,
        )
        st.caption(res.note)

st.subheader("Data quality")
dq = cache.service("data.run_explorer:data_quality", run_id)
if dq is None:
    st.caption(
        "This store has no data-quality view (v_data_quality); re-ingest with a newer version to get one."
    )
else:
    flagged = svc.flagged_quality(dq)
    if flagged.height == 0:
        st.success(f"No data-quality flags on the {dq.height} logged metric(s) of this run.")
    else:
        st.caption(
            f"{flagged.height} of {dq.height} metric(s) flagged (README, SQL reference: v_data_quality)."
        )
        widgets.table(flagged, f"run_{run_id}_data_quality", data=dq, key=K + "dq")

st.subheader("Fits that used it")
used = cache.service("data.run_explorer:fits_using", run_id)
if used.height == 0:
    st.caption("No stored fit selects this run's source (`scaling fit ...` records fits).")
else:
    widgets.table(used, f"run_{run_id}_fits", key=K + "fits")
    st.caption(
        "Newest fit per (axis, law, selection) whose selection names this run's source or the run itself."
    )

st.subheader("Labels and history")
ok, why = access.may_write()
with st.expander("Relabel or delete this run"):
    st.caption(why + " Re-ingesting the run's file undoes a change.")
    if ok:
        with st.form(K + "_label_form"):
            c1, c2, c3 = st.columns([1, 2, 1])
            field = c1.selectbox("Label", LABEL_COLUMNS, key=K + "_field")
            value = c2.text_input(
                f"New value (now: {run.get(field) or 'empty'}; empty clears it)", key=K + "_value"
            )
            scope = c3.radio("Apply to", ["this run", "with overlaid runs"], key=K + "_scope")
            if st.form_submit_button("Set label"):
                targets = [run_id] + (list(overlay) if scope != "this run" else [])
                try:
                    n = curation.label(cache.db_state()[0], targets, field, value.strip(), access.actor())
                except ValueError as e:
                    st.error(f"Not changed: {e}")
                else:
                    widgets.store_changed()
                    st.toast(f"{n} value(s) of {field} changed on {len(targets)} run(s)")
                    st.rerun()
        sure = st.checkbox(f"Delete {run_id} with its metric and eval rows", key=K + "_sure")
        if st.button("Delete run", disabled=not sure, type="primary", key=K + "_delete"):
            try:
                counts = curation.delete(cache.db_state()[0], [run_id], access.actor())
            except ValueError as e:
                st.error(f"Not deleted: {e}")
            else:
                widgets.store_changed()
                st.session_state.pop(K + "run", None)
                st.toast(f"Deleted {run_id} ({counts['metrics']:,} metric rows)")
                st.rerun()
history = cache.service("data.curate:audit", run_id)
if history.height == 0:
    st.caption("No label or delete change recorded for this run.")
else:
    widgets.table(
        history.drop("audit_id").with_columns(
            pl.col("changed_at").dt.strftime("%Y-%m-%d %H:%M"),
            pl.when(pl.col("action") == "delete")
            .then(pl.lit("(the deleted row, as JSON, in the download)"))
            .otherwise(pl.col("old_value"))
            .alias("old_value"),
        ),
        f"run_{run_id}_audit",
        data=history,
        key=K + "audit",
        column_config={"changed_at": "changed (UTC)", "actor": "who"},
    )
