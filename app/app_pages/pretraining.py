"""Pretraining: fit a law to one source's final losses; loss vs compute, parameters, compute-optimal sizing."""

import streamlit as st

from app import cache, charts, state, widgets
from app.services.pretraining import LAWS, allocation_table, budget_warning, fit_warnings, loss_curves

st.title("Pretraining scaling fit")
sources = cache.q("pretrain_sources")
if sources.height == 0:
    st.info(
        "No pretraining runs with N, D, C and a final loss yet. Ingest some (see README, 'Using your own logs')."
    )
    st.stop()
source = st.selectbox(
    "Source",
    sources["source"].to_list(),
    key=state.PRE_SOURCE,
    help="The sweep or study the runs come from (runs.source). Fit each source separately: "
    "losses are not comparable across tokenizers and eval sets.",
)
points = cache.q("pretrain_points", source, None)
where = widgets.selection_filter(points, key=state.PRE_CORPUS)
law = st.radio(
    "Law",
    ["chinchilla", "compute"],
    key=state.PRE_LAW,
    horizontal=True,
    format_func={"chinchilla": "Chinchilla L(N, D)", "compute": "Compute law L(C)"}.get,
    help="Chinchilla: " + LAWS["chinchilla"] + ". Compute law: " + LAWS["compute"] + ".",
)
n_boot = cache.settings().bootstrap
with st.spinner(f"Fitting {law} with {n_boot} bootstrap replicates over runs..."):
    try:
        fit = cache.pretraining_fit(
            *cache.db_state(), source, where, law, n_boot, cache.settings().seed, True
        )
    except ValueError as e:
        st.error(f"Cannot fit {law} to {source}: {e}")
        st.stop()
r = fit.result
tiles = []
for k, v in r.params.items():
    lo, hi = r.interval(k)
    tiles.append(
        (
            k,
            f"{v:.4g}" if abs(v) < 1e4 else f"{v:.3g}",
            f"95% bootstrap interval [{lo:.4g}, {hi:.4g}]" if lo == lo else None,
        )
    )
widgets.metric_grid(
    [*tiles, ("points", f"{r.n_points}", "runs (or budgets) the law was fitted to")], per_row=6
)
for w in fit_warnings(fit):
    st.warning(w)
try:
    curve, band = loss_curves(fit, seed=cache.settings().seed)
except ValueError as e:
    st.warning(f"No fitted curve drawn: {e}")
    curve = band = None
st.altair_chart(
    charts.loss_vs_compute(
        fit.points, color="n_params", frontier=curve, band=band, title=f"{source}: final loss vs compute"
    ),
    width="stretch",
)
st.caption(
    f"{fit.points.height} runs; line: {LAWS[law]}. Bands from {r.bootstrap.n if r.bootstrap else 0} "
    "bootstrap replicates over runs. Points with non-positive values are not drawn on the log axes."
)

st.subheader("Parameters")
st.dataframe(
    widgets.as_text(widgets.param_table(r), dict.fromkeys(("value", "ci95_lo", "ci95_hi"), widgets.gfmt(4))),
    hide_index=True,
    key="pretraining.params",
    column_config={"ci95_lo": "95% lo", "ci95_hi": "95% hi"},
)
if r.grad_norm is not None:
    st.caption(
        f"Objective {r.objective:.6g} ({r.loss}, delta {r.delta}); gradient norm at the optimum "
        f"{r.grad_norm:.2e}; {r.n_starts} starts; {r.optimizer}."
    )

if law == "chinchilla":
    st.subheader("Compute-optimal allocation")
    budget = widgets.flops_input("Compute budget C (FLOPs)", "1e23", key=state.PRE_BUDGET)
    try:
        alloc = allocation_table(r, [budget]) if budget else None
    except ValueError as e:
        st.error(f"No compute-optimal allocation for this fit: {e}")
        alloc = None
    if alloc is not None:
        if msg := budget_warning(fit, budget):
            st.warning(msg)
        row = alloc.row(0, named=True)
        c1, c2, c3 = st.columns(3)
        c1.metric("N_opt (params)", widgets.human(row["N_opt"]), help=f"{row['N_opt']:.4e} parameters")
        c2.metric("D_opt (tokens)", widgets.human(row["D_opt"]), help=f"{row['D_opt']:.4e} tokens")
        c3.metric("tokens per parameter", f"{row['tokens_per_param']:.3g}")
        if "N_opt_lo" in alloc.columns:
            st.caption(
                f"95% intervals: N_opt [{widgets.human(row['N_opt_lo'])}, {widgets.human(row['N_opt_hi'])}], "
                f"D_opt [{widgets.human(row['D_opt_lo'])}, {widgets.human(row['D_opt_hi'])}], tokens/param "
                f"[{row['tokens_per_param_lo']:.3g}, {row['tokens_per_param_hi']:.3g}]."
            )

widgets.backtest_panel(fit.backtest)
with st.expander("Reporting checklist (Li et al. 2025, arXiv 2502.18969)"):
    st.json(fit.checklist)
