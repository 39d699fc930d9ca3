"""Data mixes: one compute law per corpus of a source, exponents with intervals, effective compute multiplier."""

import polars as pl
import streamlit as st

from app import cache, fmt, widgets
from app import charts_pretraining as cp
from app.services.approaches import selection_filter

K = "data_mix."
st.title("Data mixes: compute laws per corpus")
st.caption(
    "Each corpus is fitted separately with L(C) = E + A C^-alpha on its lowest loss per budget (Porian et al. "
    "2024, arXiv 2406.19146). The multiplier of a mix is how many times C the reference corpus needs to reach "
    "the mix's loss at C (> 1: the mix is more compute-efficient)."
)
sources = cache.q("pretrain_sources").filter(pl.col("n_corpora") >= 2)
if sources.height == 0:
    st.info("No source with two or more corpora (runs.corpus) yet.")
    st.stop()
source = st.selectbox("Source", sources["source"].to_list(), key=K + "source")
points = cache.q("pretrain_points", source, None)
corpora = sorted({c for c in points["corpus"].to_list() if c is not None})
# recipes covering the most corpora first (a comparison needs every corpus under the same recipe)
recipes = (
    points.filter(pl.col("recipe").is_not_null())
    .group_by("recipe")
    .agg(pl.col("corpus").n_unique().alias("n"))
    .sort(["n", "recipe"], descending=[True, False])["recipe"]
    .to_list()
)
c1, c2, c3 = st.columns(3) if len(recipes) > 1 else (None, *st.columns(2))
recipe = None
if c1 is not None:
    with c1:
        recipe = st.selectbox("Runs (recipe)", recipes + ["all"], key=K + "recipe")
with c2:
    reference = st.selectbox("Reference corpus", corpora, key=K + "reference")
with c3:
    budget = widgets.flops_input("Budget C for the multiplier (FLOPs)", "1e21", key=K + "budget")
if budget is None:
    st.stop()
where = selection_filter(None, None if recipe == "all" else recipe)
n_boot, seed = cache.settings().bootstrap, cache.settings().seed
with st.spinner(f"Fitting {len(corpora)} corpora with {n_boot} bootstrap replicates each..."):
    try:
        res = cache.service(
            "app.services.datamix:compare_corpora",
            source,
            where,
            budget=budget,
            reference=reference,
            n_boot=n_boot,
            seed=seed,
        )
    except ValueError as e:
        st.error(f"Cannot compare the corpora of {source}: {e}")
        st.stop()

t = res.table
others = t.filter(pl.col("mix") != res.reference)
cols = st.columns(max(others.height, 1))
for col, row in zip(cols, others.iter_rows(named=True), strict=False):
    col.metric(
        f"multiplier {row['mix']} vs {res.reference}",
        f"{row['multiplier']:.3g}x",
        help=f"95% interval [{row['multiplier_lo']:.3g}, {row['multiplier_hi']:.3g}] from paired replicates",
    )
    if row["reason"] != "ok":
        col.caption(row["reason"])
shown = t.select(
    "mix",
    "multiplier",
    pl.format("[{}, {}]", *(fmt.g(t[c], 3) for c in ("multiplier_lo", "multiplier_hi"))).alias("mult_ci"),
    "L",
    "E",
    pl.format("[{}, {}]", *(pl.col(c).round(3) for c in ("E_lo", "E_hi"))).alias("E_ci"),
    "A",
    "alpha",
    pl.format("[{}, {}]", *(pl.col(c).round(4) for c in ("alpha_lo", "alpha_hi"))).alias("alpha_ci"),
    "n_points",
    *(["reason"] if (t["reason"] != "ok").any() else []),  # only when a fit is not usable
    *(["identifiability"] if (t["identifiability"] != "identified").any() else []),  # only when one is not
)
widgets.table(
    shown,
    f"data_mix_{source}_corpora",
    data=t,
    width="stretch",
    key=K + "table",
    column_config={
        "mix": "corpus",
        "multiplier": st.column_config.NumberColumn(f"multiplier vs {res.reference}", format="%.3g"),
        "mult_ci": "multiplier 95%",
        "L": st.column_config.NumberColumn(f"L at {budget:.3g} FLOPs (nats/token)", format="%.4f"),
        "E": st.column_config.NumberColumn("E (nats/token)", format="%.4f"),
        "E_ci": "E 95%",
        "A": st.column_config.NumberColumn("A", format="%.4g"),
        "alpha": st.column_config.NumberColumn("alpha", format="%.4f"),
        "alpha_ci": "alpha 95%",
        "n_points": "frontier points",
        "reason": "status",
        "identifiability": st.column_config.TextColumn(
            "identifiability", help="objective profiles of E and alpha (README, 'Fit verdicts')"
        ),
    },
)
c_max = float(res.points["compute_flops"].max())
st.caption(
    f"95% intervals from {n_boot} bootstrap replicates over each corpus's frontier points. Largest run: "
    f"{c_max:.3g} FLOPs" + (f"; C = {budget:.3g} is an extrapolation." if budget > c_max else ".")
)
st.caption(
    "A multiplier is meaningful only when every corpus is evaluated on the same held-out set (Marin: Paloma "
    "macro average; Gadre et al.: C4 validation). Losses on each corpus's own validation split are not comparable."
)
widgets.chart(
    cp.mixes_vs_compute(
        res.points, res.frontier, res.curves, budget, title=f"{source}: loss vs compute per corpus"
    ),
    width="stretch",
    name="data_mix_loss_vs_compute",
)
