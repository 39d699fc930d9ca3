"""Compute-optimal allocation: Chinchilla Approaches 1-3 on one source, exponents a, b and N_opt side by side."""

import polars as pl
import streamlit as st

from app import cache, widgets
from app import charts_pretraining as cp
from app.services.approaches import selection_filter

K = "compute_optimal."
st.title("Compute-optimal allocation: three approaches")
st.caption(
    "Approach 1: lower envelope of training curves; Approach 2: isoFLOP profiles; Approach 3: parametric "
    "L(N, D) = E + A/N^alpha + B/D^beta (Hoffmann et al. 2022, arXiv 2203.15556). N_opt ~ C^a, D_opt ~ C^b."
)
sources = cache.q("pretrain_sources")
if sources.height == 0:
    st.info("No pretraining runs yet. Ingest some (see README, 'Using your own logs').")
    st.stop()
# default: the source where most approaches apply (isoFLOP budgets, per-step curves), single corpus first
ranked = sources.with_columns(
    ((pl.col("n_isoflop_points") > 0).cast(pl.Int8) + (pl.col("n_curves") > 0).cast(pl.Int8)).alias("score")
).sort(["score", "n_corpora", "source"], descending=[True, False, False])
names = sources["source"].to_list()
source = st.selectbox("Source", names, index=names.index(ranked["source"][0]), key=K + "source")
points = cache.q("pretrain_points", source, None)
c1, c2 = st.columns(2)
corpora = sorted({c for c in points["corpus"].to_list() if c is not None})
with c1:
    corpus = st.selectbox("Corpus", corpora, key=K + "corpus") if len(corpora) > 1 else None
in_corpus = points.filter(pl.col("corpus") == corpus) if corpus else points
recipes = sorted({r for r in in_corpus["recipe"].to_list() if r is not None})
with c2:
    recipe = (
        st.selectbox(
            "Configuration (recipe)",
            recipes,
            key=K + "recipe",
            help="Configurations of one source are never pooled: fit one at a time.",
        )
        if len(recipes) > 1
        else None
    )
where = selection_filter(corpus, recipe)
c1, c2, c3 = st.columns(3)
with c1:
    budget = widgets.flops_input("Compute budget C (FLOPs)", "1e23", key=K + "budget")
with c2:
    neighbors = st.selectbox(
        "Approach 2 parabola",
        [2, 3, 0],
        key=K + "neighbors",
        format_func=lambda k: f"local: minimum +/- {k} sizes" if k else "all runs of each budget",
        help="A parabola through a wide sweep is biased by the asymmetric profile; a local one approximates the "
        "interpolation of Porian et al. (2024). Llama 3 fits every run of a budget.",
    )
with c3:
    lbfgs = st.checkbox("Also reference L-BFGS (64 grid starts)", key=K + "lbfgs")
if budget is None:
    st.stop()
n_boot, seed = cache.settings().bootstrap, cache.settings().seed
with st.spinner(f"Fitting three approaches with {n_boot} replicates each..."):
    try:
        res = cache.service(
            "app.services.approaches:compare_approaches",
            source,
            where,
            budget=budget,
            n_boot=n_boot,
            seed=seed,
            neighbors=neighbors,
            lbfgs=lbfgs,
        )
    except ValueError as e:
        st.error(f"Cannot compare approaches on {source} ({where or 'no filter'}): {e}")
        st.stop()

table = res.table
ok = table.filter(pl.col("status").is_in(["ok", "warning"]))
if ok.height == 0:
    st.error("No approach applies to this selection: " + "; ".join(table["reason"].to_list()))
    st.stop()
st.subheader(f"Exponents and N_opt at C = {budget:.3g} FLOPs")
tiles = []
for row in ok.iter_rows(named=True):
    tag = "Approach " + row["approach"].split(":")[0] + (" lbfgs" if "lbfgs" in row["approach"] else "")
    tiles += [
        (
            f"a ({tag})",
            f"{row['a']:.3f}",
            f"N_opt ~ C^a; 95% interval [{row['a_lo']:.3f}, {row['a_hi']:.3f}]",
        ),
        (
            f"b ({tag})",
            f"{row['b']:.3f}",
            f"D_opt ~ C^b; 95% interval [{row['b_lo']:.3f}, {row['b_hi']:.3f}]",
        ),
        (
            f"N_opt at {budget:.3g} FLOPs ({tag})",
            widgets.human(row["N_opt"]),
            f"{row['N_opt']:.4e} params; 95% interval [{widgets.human(row['N_opt_lo'])}, "
            f"{widgets.human(row['N_opt_hi'])}]",
        ),
    ]
widgets.metric_grid(tiles, per_row=3)
for row in table.filter(pl.col("status") == "warning").iter_rows(named=True):
    st.warning(f"{row['approach']}: fitted but unreliable -- {row['reason']}")
for row in table.filter(pl.col("status") == "not applicable").iter_rows(named=True):
    st.info(f"{row['approach']}: not applicable -- {row['reason']}")

st.subheader("Comparison")
ok_row = pl.col("status").is_in(["ok", "warning"])
widgets.table(
    table.select(
        "approach",
        widgets.ci_text(table, "a", widgets.ffmt(3), ok_row),
        widgets.ci_text(table, "b", widgets.ffmt(3), ok_row),
        widgets.ci_text(table, "N_opt", widgets.human, ok_row),
        widgets.human(table["D_opt"]),
        "n_points",
    ),
    "compute_optimal_comparison",
    data=table,
    width="stretch",
    key=K + "table",
    column_config={
        "approach": st.column_config.TextColumn("approach", width="medium"),
        "a": "a [95%]",
        "b": "b [95%]",
        "N_opt": "N_opt (params) [95%]",
        "D_opt": "D_opt (tokens)",
        "n_points": st.column_config.NumberColumn(
            "points", help="runs (Approaches 1, 3) or budgets (Approach 2)"
        ),
    },
)
st.caption(
    "  \n".join(
        f"**{r['approach']}**: {r['method']}"
        + (f"; uncertainty: {r['uncertainty']}" if r["uncertainty"] else "")
        for r in ok.iter_rows(named=True)
    )
)
st.caption(
    f"Intervals: 95% percentile. Approach 1: {res.notes['approach1']}. Approach 2: {res.notes['approach2']}. a, b are dimensionless; N_opt and D_opt at "
    f"C = {budget:.3g} FLOPs (extrapolated beyond the data when C exceeds the largest run)."
)
widgets.chart(
    cp.nopt_vs_compute(
        res.curves, res.minima if res.minima.height else None, title=f"{source}: N_opt vs compute"
    ),
    width="stretch",
    name="compute_optimal_nopt_vs_compute",
)
if res.minima.height:
    st.subheader("isoFLOP profiles")
    if res.profiles.height:
        widgets.chart(
            cp.isoflop_profiles(
                res.profiles, res.minima, title="final loss vs N per budget (vertices marked)"
            ),
            "compute_optimal_isoflop_profiles",
        )
    widgets.table(
        widgets.as_text(
            res.minima.select(
                c
                for c in (
                    "C",
                    "N_opt",
                    "tokens_per_param",
                    "n_points",
                    "n_cells",
                    "excluded",
                    "convex",
                    "bracketed",
                    "status",
                )
                if c in res.minima.columns
            ),
            {"C": lambda v: widgets.sci(v, 2), "N_opt": widgets.human, "D_opt": widgets.human},
        ),
        "compute_optimal_isoflop_minima",
        data=res.minima,
        key=K + "minima",
        column_config={
            "C": "budget C (FLOPs)",
            "N_opt": "vertex N_opt (params)",
            "D_opt": "D_opt (tokens)",
            "L_opt": st.column_config.NumberColumn("L_opt (nats/token)", format="%.4f"),
            "tokens_per_param": st.column_config.NumberColumn("tokens / param", format="%.1f"),
            "n_points": "runs in parabola",
            "n_cells": "runs at budget",
            "excluded": st.column_config.TextColumn("excluded (why)", help=res.notes["approach2_rules"]),
        },
    )
    st.caption("Budget checks: " + res.notes["approach2_rules"])
    if res.excluded_cells.height:
        with st.expander(f"{res.excluded_cells.height} isoFLOP cells excluded (which and why)"):
            st.dataframe(res.excluded_cells, hide_index=True, key=K + "excluded")
