"""Inference-aware sizing (Sardana et al. 2024): the model that minimises training + lifetime inference FLOPs."""

import polars as pl
import streamlit as st

from app import cache, widgets
from app import charts_pretraining as cp
from app.services.approaches import selection_filter
from app.services.sizing import PRESETS, summary_rows

K = "inference_sizing."
st.title("Inference-aware model sizing")
st.caption(
    "Minimise 6 N D + 2 N D_inf over the iso-loss curve of a Chinchilla law (Sardana et al. 2024, "
    "arXiv 2401.00448). Inference costs 2N FLOPs per token, training 6N."
)
origin = st.radio("Law", ["published preset", "stored fit", "fresh fit"], key=K + "origin", horizontal=True)
n_boot = cache.settings().bootstrap
if origin == "published preset":
    law = "preset:" + st.selectbox("Preset", list(PRESETS), key=K + "preset")
elif origin == "stored fit":
    fits = cache.service("app.services.sizing:stored_chinchilla_fits")
    if fits.height == 0:
        st.info(
            "No stored chinchilla fit yet: run `scaling fit pretraining --law chinchilla` or use a preset."
        )
        st.stop()
    fid = st.selectbox(
        "Stored fit",
        fits["fit_id"].to_list(),
        key=K + "fit_id",
        format_func=lambda f: f"{f}: " + fits.filter(pl.col("fit_id") == f)["selection_json"][0],
    )
    law = f"stored:{fid}"
else:
    sources = cache.q("pretrain_sources")["source"].to_list()
    source = st.selectbox("Source", sources, key=K + "source")
    pts = cache.q("pretrain_points", source, None)
    corpora = sorted({c for c in pts["corpus"].to_list() if c is not None})
    corpus = st.selectbox("Corpus", corpora, key=K + "corpus") if len(corpora) > 1 else None
    where = selection_filter(corpus, None)
    law = f"fit:{source}" + (f"|{where}" if where else "")

mode = st.radio(
    "Target",
    ["loss of a Chinchilla-optimal model", "target loss"],
    key=K + "mode",
    horizontal=True,
)
c1, c2 = st.columns(2)
with c1:
    if mode == "target loss":
        target = widgets.flops_input("Target loss (nats/token)", "2.1", key=K + "target_loss")
        ref_n = None
    else:
        ref_n = widgets.flops_input("Reference model size N (params)", "13e9", key=K + "ref_params")
        target = None
with c2:
    d_inf = widgets.flops_input(
        "Lifetime inference demand D_inf (tokens)", "2e12", key=K + "inference_tokens"
    )
if d_inf is None or (target is None and ref_n is None):
    st.stop()

with st.spinner(
    "Solving the inference-aware optimum" + (" (fitting the law first)" if origin == "fresh fit" else "")
):
    try:
        res = cache.service(
            "app.services.sizing:size_model",
            law,
            inference_tokens=d_inf,
            target_loss=target,
            reference_params=ref_n,
            n_boot=n_boot,
        )
    except ValueError as e:
        st.error(f"Cannot size the model: {e}")
        st.stop()

o = res.optimum
c = st.columns(5)
c[0].metric(
    "N* (params)",
    widgets.human(o["N"], 3),
    help=f"Chinchilla-optimal for the same loss: {widgets.human(o['N0'], 3)}",
)
c[1].metric("D* (tokens)", widgets.human(o["D"]), help=f"{o['D']:.4e} tokens")
c[2].metric("tokens per parameter", f"{o['tokens_per_param']:.4g}")
c[3].metric("FLOPs saved", widgets.sci(o["saving_flops"], 2))
if not (1e7 <= o["N"] <= 1e13) or o["tokens_per_param"] > 1e5:
    st.warning(
        f"N* = {o['N']:.3g} parameters at {o['tokens_per_param']:.3g} tokens per parameter is far outside the range "
        "any scaling law here was fitted on (tens of millions to tens of billions of parameters, up to ~10^4 tokens "
        "per parameter); check the target loss and the inference demand."
    )
c[4].metric("saving (%)", f"{100 * o['saving_fraction']:.1f}")
st.caption(
    f"Law: {res.law_label} (E={res.params['E']:.4g}, A={res.params['A']:.4g}, B={res.params['B']:.4g}, "
    f"alpha={res.params['alpha']:.4g}, beta={res.params['beta']:.4g}); target loss {res.target_loss:.4f} "
    f"nats/token; D_inf = {res.inference_tokens:.3g} tokens. "
    + (
        f"Intervals from {res.n_replicates} replicates of the law."
        if res.intervals
        else "No replicates: no intervals."
    )
)
if res.identifiability:
    per = ", ".join(f"{k}: {v['verdict']}" for k, v in res.identifiability.get("parameters", {}).items())
    st.caption(f"Law identifiability: **{res.identifiability['verdict']}** ({per}).")
for w in res.warnings:
    st.warning(w)
rows = summary_rows(res)
fmts = {"tokens per parameter": lambda v: f"{v:.1f}", "total FLOPs (train + inference)": widgets.sci}
keys = {"parameters N": "N", "training tokens D": "D", "tokens per parameter": "tokens_per_param"}


def _cells(r: dict) -> dict:
    """Display row: N and D with B/T suffixes, FLOPs in scientific notation, the interval in the same format."""
    f = fmts.get(r["quantity"], widgets.human)
    iv = res.intervals.get(keys.get(r["quantity"], ""))
    ci = f"[{f(iv[0])}, {f(iv[1])}]" if iv else r["95% interval"]
    return {
        **r,
        "inference-aware": f(r["inference-aware"]),
        "Chinchilla-optimal": f(r["Chinchilla-optimal"]),
        "95% interval": ci,
    }


table = pl.DataFrame([_cells(r) for r in rows])
if not any(table["95% interval"].to_list()):  # no replicates: no interval column
    table = table.drop("95% interval")
widgets.table(
    table,
    "inference_sizing_optimum",
    key=K + "table",
    column_config={"inference-aware": "inference-aware N*", "Chinchilla-optimal": "Chinchilla-optimal N0"},
)
widgets.chart(
    cp.sizing_curve(res.curve, o, title="total FLOPs along the iso-loss curve (around the two optima)"),
    width="stretch",
    name="inference_sizing_total_flops",
)
