"""Stored fits: every recorded fit (CLI, demo), filtered by axis and law; one fit's parameters, intervals,
selection, bootstrap replicates, backtest and reporting checklist."""

import streamlit as st

from app import cache, widgets
from app.services.records import js_safe

st.title("Stored fits")
st.caption(
    "The newest fit per (axis, law, data selection) recorded in the `fits` table by `scaling fit ...` and "
    "`scaling demo`. Fits are recorded with the code version that produced them."
)
all_fits = cache.service("app.services.records:stored_fits", None, None)
if all_fits.height == 0:
    st.info(
        "No fits stored yet. Record one with `scaling fit pretraining --source SOURCE --bootstrap 200 --backtest` "
        "(or `scaling demo`), then reload."
    )
    st.stop()

c1, c2 = st.columns(2)
axis = c1.selectbox("Axis", ["all", *sorted(set(all_fits["axis"].to_list()))], key="fits.axis")
axis_arg = None if axis == "all" else axis
laws = sorted(set(cache.service("app.services.records:stored_fits", axis_arg, None)["law"].to_list()))
law = c2.selectbox("Law", ["all", *laws], key="fits.law")
fits = cache.service("app.services.records:stored_fits", axis_arg, None if law == "all" else law)
if fits.height == 0:
    st.info(f"No stored fit with axis {axis} and law {law}.")
    st.stop()
widgets.table(
    fits.rename({"n_points": "n_points (fitted)", "created_at": "created_at (UTC)"}),
    "stored_fits",
    key="fits.table",
    # what a reader compares first; the provenance columns (loss, optimizer, code, id) last
    column_order=[
        "law",
        "verdict",
        "params",
        "selection",
        "n_points (fitted)",
        "axis",
        "created_at (UTC)",
        "loss_fn",
        "optimizer",
        "code_version",
        "fit_id",
    ],  # fmt: skip
    column_config={
        "verdict": st.column_config.TextColumn(
            "identifiability",
            help="Stored identifiability verdict (objective profiles, README 'Fit verdicts'); — for fits stored "
            "before verdicts were recorded or by laws without them.",
        ),
        "params": st.column_config.TextColumn("parameters"),
        "selection": st.column_config.TextColumn("data selection"),
        "created_at (UTC)": st.column_config.DatetimeColumn("created_at (UTC)", format="YYYY-MM-DD HH:mm"),
    },
)

labels = {
    r["fit_id"]: f"{r['law']} | {r['selection']} | {r['created_at']:%Y-%m-%d %H:%M} | {r['fit_id']}"
    for r in fits.iter_rows(named=True)
}
fit_id = st.selectbox("Fit", list(labels), format_func=labels.get, key="fits.fit_id")
fit = cache.service("app.services.records:fit_detail", fit_id)
if fit is None:
    st.error(f"Fit {fit_id} is no longer in the database (it was replaced); reload the page.")
    st.stop()

st.subheader(f"{fit['law']} fit ({fit['axis']})")
res = fit["result"]
main = fit["params"].filter(fit["params"]["kind"] == "parameter")
cols = st.columns(len(main) + 2)
for col, row in zip(cols, main.iter_rows(named=True), strict=False):
    lo, hi = row["ci95_lo"], row["ci95_hi"]
    col.metric(
        row["name"],
        "n/a" if row["value"] is None else f"{row['value']:.4g}",
        help=f"95% bootstrap interval [{lo:.4g}, {hi:.4g}]" if lo is not None and hi is not None else None,
    )
cols[-2].metric("points", f"{res.get('n_points')}")
cols[-1].metric(
    "replicates kept",
    f"{fit['n_kept']} of {fit['n_replicates']}" if fit["n_replicates"] else "none",
    help="Replicates whose refit succeeded; the 95% intervals are percentiles over these.",
)
widgets.table(js_safe(fit["params"])[0], f"fit_{fit_id}_parameters", data=fit["params"], key="fits.params")
st.caption(
    f"Objective {res.get('objective') if res.get('objective') is None else format(res['objective'], '.6g')} "
    f"({res.get('loss')} on {res.get('space')} residuals"
    + (f", delta {res['delta']:g}" if res.get("delta") else "")
    + f"); {res.get('optimizer')}; {res.get('n_starts')} starts; gradient norm "
    + (f"{res['grad_norm']:.2e}" if res.get("grad_norm") is not None else "n/a")
    + f"; converged: {res.get('success')}. Code {fit['code_version']}, stored {fit['created_at']:%Y-%m-%d %H:%M} UTC."
)
if fit["n_replicates"]:
    st.caption(
        f"Bootstrap: {fit['n_replicates']} replicates resampled by {fit['replicate_unit']} "
        f"({fit['replicate_method']}, seed {fit['replicate_seed']}); {fit['n_replicates'] - fit['n_kept']} failed."
    )
else:
    st.caption("No bootstrap replicates were stored, so there are no intervals (fit with `--bootstrap N`).")

widgets.records_download(
    {k: v for k, v in fit.items() if k != "params"} | {"param_table": fit["params"]}, f"fit_{fit_id}"
)
st.subheader("Selection")
st.json(fit["selection"])
bt = fit["backtest"]
if not bt or "error" in bt or {"rows", "mean_abs_rel_error", "n_train"} <= set(bt):
    widgets.backtest_panel(bt)
else:
    st.subheader("Backtest")
    st.json(bt)
with st.expander("Reporting checklist (Li et al. 2025, arXiv 2502.18969)", expanded=False):
    st.json(fit["checklist"])
