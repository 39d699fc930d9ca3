"""Pretraining: fit a law to one source's final losses; loss vs compute, parameters, compute-optimal sizing."""

import streamlit as st

from app import cache, charts, charts_runs, state, widgets
from app.services.pretraining import (
    FIXABLE,
    LAWS,
    TIEABLE,
    allocation_table,
    budget_warnings,
    describe_constraints,
    fit_warnings,
    identifiability_table,
    loss_curves,
)

st.title("Pretraining scaling fit")
sources = cache.q("pretrain_sources")
if sources.height == 0:
    st.info(
        "No pretraining runs with N, D, C and a final loss yet. Ingest some (see README, 'Using your own logs')."
    )
    st.stop()
# first visit: open on the most identifiable stored fit with a plausible compute-optimal ratio
if state.PRE_SOURCE not in st.session_state:
    default = cache.service("app.services.pretraining:default_selection")
    if default and default["source"] in sources["source"].to_list():
        st.session_state[state.PRE_SOURCE] = default["source"]
        if default["corpus"]:
            st.session_state[state.PRE_CORPUS] = default["corpus"]
        if default["recipe"]:
            st.session_state[state.PRE_CORPUS + ".recipe"] = default["recipe"]
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
fixed: dict[str, float] = {}
with st.expander("Constraints (fixed E, fixed or tied exponents)"):
    cols = st.columns(len(FIXABLE[law]) + (law in TIEABLE))
    for col, name in zip(cols, FIXABLE[law], strict=False):
        with col:
            if st.checkbox(f"fix {name}", key=f"pretraining.fix_{name}"):
                fixed[name] = st.number_input(
                    f"{name} =",
                    value={"E": 1.69, "alpha": 0.34, "beta": 0.28}[name],
                    min_value=0.0,
                    format="%.4f",
                    key=f"pretraining.fix_{name}_value",
                    help="E in nats/token (> 0); exponents in [0, 2.5]",
                )
    tie = law in TIEABLE and cols[-1].checkbox(
        "tie alpha = beta", key="pretraining.tie", help="one shared exponent for N and D"
    )
n_boot = cache.settings().bootstrap
with st.spinner(f"Fitting {law} with {n_boot} bootstrap replicates over runs..."):
    try:
        fit = cache.service(
            "app.services.pretraining:fit_selection",
            source,
            where,
            law,
            n_boot,
            cache.settings().seed,
            True,
            fixed=tuple(sorted(fixed.items())),
            tie=bool(tie),
        )
    except ValueError as e:
        st.error(f"Cannot fit {law} to {source}: {e}")
        st.stop()
r = fit.result
ident = fit.identifiability
untrusted = set(ident.get("untrustworthy_intervals", []))
tiles = []
for k, v in r.params.items():
    lo, hi = r.interval(k)
    tiles.append(
        (
            k,
            f"{v:.4g}" if abs(v) < 1e4 else f"{v:.3g}",
            (f"95% bootstrap interval [{lo:.4g}, {hi:.4g}]" if lo == lo else "")
            + (" UNTRUSTWORTHY (see Identifiability)" if k in untrusted else "")
            + (" (fixed by the constraint)" if k in fixed or (tie and k == "beta") else "")
            or None,
        )
    )
widgets.metric_grid(
    [*tiles, ("points", f"{r.n_points}", "runs (or budgets) the law was fitted to")], per_row=6
)
spans = ", ".join(f"{k} {v:.2f}" for k, v in ident["spans_decades"].items() if v is not None)
verdict = (
    f"Identifiability: **{ident['verdict']}** ({ident['n_points']} points, {ident['n_free_params']} free "
    f"parameters; spans in decades: {spans}; constraints: {describe_constraints(fixed, bool(tie))}). {r.message}."
)
{"identified": st.success, "weakly identified": st.warning}.get(ident["verdict"], st.error)(verdict)
for w in fit_warnings(fit):
    st.warning(w)
try:
    curve, band = loss_curves(fit, seed=cache.settings().seed)
except ValueError as e:
    st.warning(f"No fitted curve drawn: {e}")
    curve = band = None
widgets.chart(
    charts.loss_vs_compute(
        fit.points, color="n_params", frontier=curve, band=band, title=f"{source}: final loss vs compute"
    ),
    width="stretch",
    name="pretraining_loss_vs_compute",
)
st.caption(
    f"{fit.points.height} runs; line: {LAWS[law]}. Bands from {r.bootstrap.n if r.bootstrap else 0} "
    "bootstrap replicates over runs. Points with non-positive values are not drawn on the log axes."
)

st.subheader("Parameters")
widgets.table(
    widgets.as_text(widgets.param_table(r), dict.fromkeys(("value", "ci95_lo", "ci95_hi"), widgets.gfmt(4))),
    f"pretraining_{source}_{law}_parameters",
    data=widgets.param_table(r),
    key="pretraining.params",
    column_config={"ci95_lo": "95% lo", "ci95_hi": "95% hi"},
)
widgets.records_download(
    {"selection": {"source": source, "where": where}, "law": law, "result": r.to_record()},
    f"pretraining_{source}_{law}_fit",
)
if r.grad_norm is not None:
    st.caption(
        f"Objective {r.objective:.6g} ({r.loss}, delta {r.delta}); gradient norm at the optimum "
        f"{r.grad_norm:.2e}; {r.n_starts} starts; {r.optimizer}. Convergence: {r.message}."
    )
if shown := sorted(untrusted & {*r.params, *r.derived}):
    st.caption(
        f"Untrustworthy bootstrap intervals: {', '.join(shown)} (a parameter is not identified, or the interval is "
        "far narrower than its profile range); read the profile ranges below instead."
    )
st.subheader("Identifiability (objective profiles)")
st.dataframe(
    identifiability_table(ident),
    hide_index=True,
    key="pretraining.identifiability",
    column_config={
        "range_lo": st.column_config.NumberColumn("within noise from", format="%.4g"),
        "range_hi": st.column_config.NumberColumn("to", format="%.4g"),
    },
)
st.caption(ident["rule"])

if law == "chinchilla":
    st.subheader("Compute-optimal allocation")
    budget = widgets.flops_input("Compute budget C (FLOPs)", "1e23", key=state.PRE_BUDGET)
    try:
        alloc = allocation_table(r, [budget]) if budget else None
    except ValueError as e:
        st.error(f"No compute-optimal allocation for this fit: {e}")
        alloc = None
    if alloc is not None:
        for msg in budget_warnings(fit, budget, alloc):
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

curves, n_logged = cache.service("data.run_explorer:loss_curves_reduced", source, where)
if curves.height:
    st.subheader("Training loss curves")
    widgets.chart(
        charts_runs.loss_curves_chart(curves, title=f"{source}: loss vs tokens per run"),
        f"pretraining_{source}_loss_curves",
    )
    st.caption(
        f"{curves['run_id'].n_unique()} runs; {curves.height:,} reduced points (last loss per log-spaced token "
        f"bucket) from {n_logged:,} logged. Open one run in the Run explorer for every metric and x axis."
    )

widgets.backtest_panel(fit.backtest)

st.subheader("Over-training law L(C, M) (Gadre et al. 2024)")
if st.toggle(
    "Fit L(C, M) = E + (a M^eta + b M^-eta) C^-eta and the loss-to-error map on this selection",
    key="pretraining.overtraining",
    help="arXiv:2403.08540 Eq. 4-5; Gadre's fitting set when the selection has it (5 small runs), else the runs "
    "up to the 60th percentile of C. Each law carries its identifiability verdict.",
):
    try:
        ot = cache.service("app.services.laws_extra:fit_overtraining_for_page", source, where)
    except ValueError as e:
        st.info(f"No over-training fit for this selection: {e}")
    else:
        for title, ofit, nruns in (
            ("L(C, M)", ot.loss_fit, len(ot.loss_fit_runs)),
            ("Err(L)", ot.error_fit, len(ot.error_fit_runs)),
        ):
            if ofit is None:
                continue
            oid = ofit.extra["identifiability"]
            spans = ", ".join(f"{k} {v:.2f}" for k, v in oid["spans_decades"].items() if v is not None)
            st.markdown(
                f"**{title}** on {nruns} runs: "
                + ", ".join(f"{k} = {v:.4g}" for k, v in ofit.params.items())
                + f" — identifiability: **{oid['verdict']}**"
                + (f" (spans in decades: {spans})" if spans else "")
            )
            st.dataframe(
                identifiability_table(oid),
                hide_index=True,
                key=f"pretraining.overtraining.ident.{ofit.law}",
                column_config={
                    "range_lo": st.column_config.NumberColumn("within noise from", format="%.4g"),
                    "range_hi": st.column_config.NumberColumn("to", format="%.4g"),
                },
            )
            for w in oid["warnings"]:
                st.warning(f"{title}: {w}")

with st.expander("Reporting checklist (Li et al. 2025, arXiv 2502.18969)"):
    st.json(fit.checklist)
