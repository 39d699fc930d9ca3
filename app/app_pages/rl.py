"""RL post-training: ScaleRL sigmoid per run vs compute, power law beside, recipe comparison, compute-to-target."""

import streamlit as st

from app import cache, charts_rl, widgets
from app.services.rl import (
    DEFAULT_TRANSIENT_FRACTION,
    LABEL_COLUMNS,
    X_AXES,
    comparison_confounds,
    comparison_display,
    curve_frames,
    default_metric,
    param_display,
    points_frame,
    pooled_note,
    poorly_determined,
    recipe_comparison,
    run_titles,
    scale_dependence,
    target_table,
    variant_names,
)

# Widget keys of this page (to move into app/state.py as RL_* constants).
K_METRIC, K_RUNS, K_X, K_CUT = "rl.metric", "rl.runs", "rl.x", "rl.transient_cut"
K_BY, K_BASE, K_TARGET = "rl.compare_by", "rl.baseline", "rl.target"
K_PARAMS, K_COMPARE = "rl.params", "rl.compare"
K_FLAGGED = "rl.include_flagged"
NUM = st.column_config.NumberColumn

st.title("RL post-training compute curves")
metrics = cache.service("app.services.rl:list_metrics")["metric"].to_list()
runs = cache.service("app.services.rl:list_runs")
if not metrics or runs.height == 0:
    st.info(
        "No RL runs with per-step metrics yet. Ingest verl logs or RL run logs (README, 'Using your own logs')."
    )
    st.stop()
default = default_metric(metrics)
c1, c2 = st.columns([2, 1])
metric = c1.selectbox(
    "Metric (a pass rate, fraction)", metrics, index=metrics.index(default), key=K_METRIC,
    help="Fitted with R0 = its value at step 0 (the initial evaluation).",
)  # fmt: skip
x = c2.radio(
    "Compute axis", list(X_AXES), key=K_X, horizontal=True,
    format_func=lambda k: "steps" if k == "step" else X_AXES[k][1],
    help="GPU-hours, FLOPs or tokens seen, or optimizer steps (labelled by the runs' algorithm).",
)  # fmt: skip
all_ids = runs["run_id"].to_list()
picked = st.multiselect("Runs", all_ids, default=all_ids, key=K_RUNS)
cut = st.number_input(
    "Early-transient cut (fraction of each run's largest compute)", min_value=0.0, max_value=0.9,
    value=DEFAULT_TRANSIENT_FRACTION, step=0.01, key=K_CUT,
    help="Points below this share of the run's compute are not fitted (ScaleRL drops the early transient).",
)  # fmt: skip
if not picked:
    st.error("Pick at least one run.")
    st.stop()
n_boot, seed = cache.settings().bootstrap, cache.settings().seed
with st.spinner(f"Fitting {len(picked)} runs with {n_boot} bootstrap replicates each..."):
    try:
        fits = cache.service(
            "app.services.rl:fit_runs", metric, tuple(picked), None, x, float(cut), n_boot, seed
        )
    except ValueError as e:
        st.error(f"Cannot fit {metric}: {e}")
        st.stop()
for rid, err in fits.errors.items():
    st.warning(f"{rid} not fitted: {err}")
unit = fits.unit

curves, band, cuts = curve_frames(fits)
widgets.chart(
    charts_rl.rl_curve_chart(points_frame(fits), curves, band, cuts, unit=unit, metric=metric),
    width="stretch",
    name="rl_curves",
)
st.caption(
    "Solid: ScaleRL sigmoid R = R0 + (A - R0)/(1 + (C_mid/C)^B) (Khatri et al. 2025, arXiv 2510.13786); dashed: "
    "ceiling-free power law R = R0 + k C^p; faded beyond the last point, with the 95% band of "
    f"{n_boot} bootstrap refits (resampling evaluation points, which are autocorrelated within a run, so the band "
    "is optimistic). Vertical rules: transient cut. The step-0 point (R0, compute 0) cannot sit on the log axis."
)
if x == "gpu_hours" and (notes := cache.service("app.services.rl:gpu_hours_notes", tuple(picked))):
    st.caption("GPU-hours: " + "; ".join(notes) + ".")

st.subheader("Fitted parameters")
cols, names = st.columns(min(len(fits.runs), 4)), run_titles(fits)
for i, f in enumerate(fits.runs):
    lo, hi = f.sigmoid.interval("A")
    col = cols[i % len(cols)]
    col.metric(
        f"A · {names[f.run_id]}", f"{f.sigmoid.params['A']:.4f}",
        help=f"Ceiling of {f.run_id}; 95% bootstrap interval [{lo:.4f}, {hi:.4f}]" if lo == lo else "no bootstrap",
    )  # fmt: skip
    if names[f.run_id] != f.run_id:
        col.caption(f.run_id)
widgets.table(
    param_display(fits), "rl_sigmoid_parameters", key=K_PARAMS, width="stretch",
    column_config={
        "R0": NUM(format="%.3f"), "A": NUM(format="%.3f"), "B": NUM(format="%.2f"),
        f"C_mid ({unit})": NUM(format="%.3g"), "backtest MAE": NUM(format="%.3f"), "power-law p": NUM(format="%.2f"),
        "flags": st.column_config.TextColumn(width="large", help="Ceiling at its bound, C_mid outside the data"),
    },
)  # fmt: skip
st.caption(
    f"A, R0 and backtest MAE: pass-rate fractions; B: dimensionless; C_mid in {unit}. 95% CI: bootstrap "
    "percentile interval. A fits as well: ceilings whose best fit is about as good as the optimum. backtest MAE: "
    "mean |predicted - observed| pass rate when fitting the first half of the compute axis and predicting the "
    "second (ScaleRL's check). power-law p: exponent of the ceiling-free R = R0 + k C^p."
)
if weak := poorly_determined(fits):
    st.warning(
        f"A is poorly determined for {', '.join(names[r] for r in weak)}: other ceilings fit about as well "
        "(range wider than ±0.02), the curve has not saturated. Read A and verdicts on A with care."
    )
for f in fits.runs:
    for flag in f.flags:
        st.warning(f"{names[f.run_id]}: {flag}; left out of the size trend unless included below.")
    if f.R0_note != "initial evaluation (step 0)":
        st.warning(f"{f.run_id}: {f.R0_note}")
    if f.sigmoid.n_points < 8:
        st.warning(
            f"{names[f.run_id]}: only {f.sigmoid.n_points} points after the transient cut for 3 free "
            "parameters; the fit and its verdicts are not meaningful. Lower the cut."
        )
if not any(s in metric.lower() for s in ("acc", "score", "reward", "pass", "correct")):
    st.info(
        f"'{metric}' does not look like an accuracy or reward; the sigmoid assumes a pass rate in [0, 1]."
    )

st.subheader("Recipe comparison: ceiling or efficiency?")
c1, c2 = st.columns(2)
by = c1.selectbox("Compare runs by", list(LABEL_COLUMNS), key=K_BY)
baseline = c2.selectbox("Baseline", variant_names(fits, by), key=K_BASE)
try:
    comp = recipe_comparison(fits, by, baseline)
except ValueError as e:
    st.error(f"Cannot compare: {e}")
else:
    widgets.table(
        comparison_display(comp, unit), "rl_recipe_comparison", key=K_COMPARE, width="stretch",
        column_config={
            "A": NUM(format="%.3f"), "ΔA": NUM(format="%+.3f", help="A minus the baseline's A"),
            f"C_mid ({unit})": NUM(format="%.3g"),
            "C_mid ratio": NUM(format="%.2f", help="C_mid / the baseline's C_mid (> 1: slower)"),
        },
    )  # fmt: skip
    widgets.chart(charts_rl.recipe_chart(comp, unit=unit), width="content", name="rl_recipe_comparison")
    st.caption(
        "A differs when |ΔA| > 0.02 (ScaleRL's seed-to-seed margin) and the 95% intervals do not overlap; B and "
        "C_mid when they change by > 10% with disjoint intervals. Higher A: higher ceiling; higher B or lower "
        "C_mid: faster. Only a significantly lower A is called worse; a significant change in one direction and "
        "another in the other is a trade-off. Variants with several runs are fitted on pooled points."
        + (f" Pooled: {pooled}." if (pooled := pooled_note(comp)) else "")
    )
    if confounds := comparison_confounds(fits, by):
        st.warning(
            f"These runs also differ in {', '.join(confounds)}: the differences are not due to {by} alone"
            + (" (C_mid in GPU-hours also reflects each model's cost per step)." if x == "gpu_hours" else ".")
        )
with_flagged = st.checkbox(
    "Include flagged runs in the size trend", False, key=K_FLAGGED,
    help="Runs whose ceiling A sits at its bound or whose C_mid lies outside the observed compute.",
)  # fmt: skip
sd = scale_dependence(fits, with_flagged)
sd["message"] = sd["message"].replace("with --include-flagged", "with the checkbox above")
if sd["available"]:
    msg = sd["message"]
    st.info(
        f"Scale dependence: A changes by {sd['A_per_decade']:+.3f} per decade of N; C_mid ~ "
        f"N^{sd['C_mid_exponent']:.2f}. {msg[:1].upper() + msg[1:]}."
    )
else:
    st.caption(f"Scale dependence not shown: {sd['message']}.")

st.subheader("Compute to reach a target")
target = st.number_input(
    "Target pass rate (fraction)", min_value=0.0, max_value=1.0, value=0.6, step=0.01, key=K_TARGET
)
for row in target_table(fits, float(target)).iter_rows(named=True):
    st.markdown(f"- **{row['run_id']}**: {row['text']}")
st.caption(f"Inverts the fitted sigmoid; interval from the bootstrap replicates ({unit}).")
