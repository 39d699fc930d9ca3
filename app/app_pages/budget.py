"""Budget simulator: how a budget should be split between pretraining, RL and test-time compute (issue 9)."""

import dataclasses
import json

import polars as pl
import streamlit as st

from app import cache, widgets
from app import charts_simulator as cs
from app.services import simulator as sim

K = "budget."
AX = sim.AXES
LABEL = {"pretraining": "pretraining", "rl": "RL", "test_time": "test time"}

st.title("Budget simulator")
st.caption(
    "Pretraining compute -> (N, D) -> loss (Chinchilla law) -> single-sample accuracy (map fitted on the store) -> "
    "per-question difficulty (Beta) -> RL (ScaleRL sigmoid) -> accuracy at k samples per query. Lifetime serving "
    "(queries x tokens x 2N FLOPs) counts against the budget. Sardana et al. 2024 (arXiv 2401.00448), T^2 "
    "(arXiv 2604.01411), ScaleRL (arXiv 2510.13786). Links marked [A] are assumptions; see the table at the bottom."
)

c = st.columns(5)
with c[0]:
    unit = st.radio("Budget in", ["FLOPs", "US dollars"], key=K + "unit", horizontal=True)
    total = widgets.flops_input(
        "Budget (" + ("FLOPs" if unit == "FLOPs" else "$") + ")",
        "1e24" if unit == "FLOPs" else "2e6",
        key=K + "total." + ("flops" if unit == "FLOPs" else "usd"),
    )
raw_q = c[1].text_input(
    "Lifetime queries Q (0 = no demand)",
    "1e9",
    key=K + "queries",
    help="Default 1e9 requests, as in Sardana et al.'s cost-calculator example (arXiv 2401.00448); tokens per "
    "sample default to the LMSys averages their code uses (70 prompt + 215 generated)",
)
try:
    queries = float(raw_q)
    if not queries >= 0 or queries == float("inf"):
        raise ValueError
except ValueError:
    st.error(f"'{raw_q}' is not a number of queries (>= 0); write e.g. 1e9")
    queries = None
with c[2]:
    tokens = widgets.flops_input("Tokens per sample (prompt + output)", "285", key=K + "tokens")
with c[3]:
    prompt = widgets.flops_input("Prompt tokens (once per query)", "70", key=K + "prompt")
mode = c[4].selectbox(
    "Test-time selection",
    ["pass@k", "majority", "none"],
    key=K + "test_time",
    help="pass@k: an oracle verifier picks a correct sample; majority: voting without a verifier (saturates) [A]; "
    "none: one sample per query",
)
c = st.columns(3)
laws = [f"preset:{n}" for n in sim.CHINCHILLA_PRESETS]
stored = cache.service("app.services.sizing:stored_chinchilla_fits")
laws += [f"stored:{f}" for f in stored["fit_id"].to_list()]
law = c[0].selectbox("Pretraining law", laws, key=K + "law", help="preset, or a stored Chinchilla fit")
rl = c[1].selectbox(
    "RL link",
    [f"preset:{n}" for n in sim.SCALERL_PRESETS] + ["none"],
    key=K + "rl",
    help="ScaleRL Table 1 row",
)
tail = c[2].text_input(
    "Difficulty",
    "counts",
    key=K + "difficulty",
    help="counts = fit the store's per-problem counts; or tail:VALUE",
)
extrapolate = st.checkbox(
    "Recommend outside the data",
    False,
    key=K + "extrapolate",
    help="Off (default): the recommended split only uses more than one sample per query where the store's "
    "per-problem counts saw such accuracies, and no more RL compute than the RL fit saw; the unconstrained optimum "
    "is shown beside it, flagged. On: the unconstrained optimum is the recommendation.",
)
defaults = sim.default_assumptions()
with st.expander("Assumptions [A] (point value; the band is drawn uniformly per replicate)"):
    cols = st.columns(len(defaults))
    assume = []
    for col, (name, a) in zip(cols, defaults.items(), strict=True):
        v = col.slider(
            name, float(a.lo), float(a.hi), float(a.value), key=K + "assume." + name, help=a.meaning
        )
        if v != a.value:
            assume.append((name, float(v)))
with st.expander("Hardware and prices (FLOPs -> GPU-hours -> dollars; Sardana et al.'s calculator defaults)"):
    cost_defaults = sim.Costs()
    cols = st.columns(4)
    costs = []
    for i, (name, label, lo, hi) in enumerate(
        [
            ("peak_flops", "training GPU peak FLOP/s", 1e12, 1e17),
            ("price_per_gpu_hour", "training $ per GPU-hour", 0.01, 100.0),
            ("infer_peak_flops", "inference GPU peak FLOP/s", 1e12, 1e17),
            ("infer_price_per_gpu_hour", "inference $ per GPU-hour", 0.01, 100.0),
            ("mfu_train", "MFU training", 0.01, 1.0),
            ("mfu_prefill", "MFU prefill", 0.001, 1.0),
            ("mfu_decode", "MFU decode", 0.001, 1.0),
            ("mfu_rl", "MFU RL [A]", 0.001, 1.0),
            ("rl_peak_flops", "RL GPU peak FLOP/s [A]", 1e12, 1e17),
            ("rl_price_per_gpu_hour", "RL $ per GPU-hour [A]", 0.01, 100.0),
        ]
    ):
        d = float(getattr(cost_defaults, name))
        v = cols[i % 4].number_input(label, lo, hi, d, key=K + "cost." + name, format="%.4g")
        if v != d:
            costs.append((name, float(v)))
if None in (total, queries, tokens, prompt):
    st.stop()
if tokens <= prompt:
    st.error("Tokens per sample must exceed the prompt tokens (they include the generated tokens).")
    st.stop()

settings = cache.settings()
cfg = sim.SimConfig(
    law=law,
    rl=rl,
    test_time=mode,
    difficulty=tail.strip(),
    n_replicates=settings.bootstrap,
    seed=settings.seed,
    assumptions=tuple(assume),
    costs=tuple(costs),
    extrapolate=bool(extrapolate),
)
budget = (
    float(total),
    "flops" if unit == "FLOPs" else "usd",
    float(queries),
    float(prompt),
    float(tokens - prompt),
)
try:
    with st.spinner("Fitting the links on the store (cached)"):
        # the links do not depend on the recommendation policy: toggling it does not refit them
        links = cache.service("app.services.simulator:load_links", dataclasses.replace(cfg, extrapolate=False))
    chain = sim.chain_from_links(links, cfg)
except ValueError as e:
    st.error(f"Cannot build the capability chain: {e}")
    st.stop()

memo = st.session_state.get(K + "memo")
if memo is None or memo[0] != (cfg, budget):
    try:
        with st.spinner("Optimising the split"):
            payload, opt = sim.optimum_payload(chain, cfg, budget)
            curves = sim.share_curves(chain, budget, opt.shares)
    except ValueError as e:
        st.error(f"Cannot optimise: {e}")
        st.stop()
    memo = ((cfg, budget), payload, opt, curves)
    st.session_state[K + "memo"] = memo
    # a new optimum moves the split sliders to it (they kept the previous budget's split before)
    st.session_state[K + "pre"] = round(100 * opt.shares["pretraining"], 1)
    st.session_state[K + "rl_share"] = round(100 * opt.shares["rl"], 1)
_, payload, opt, curves = memo
o = payload["optimum"]


def _flag_text(name: str, f: dict) -> str:
    if f.get("range") is None:
        return f"{name} = {f['value']:.3g} ({f.get('note', 'no fitted range')})"
    return f"{name} = {f['value']:.3g} (fitted {f['range'][0]:.3g}-{f['range'][1]:.3g})"


def band(m: dict) -> str:
    return f"{m['lo']:.3f}-{m['hi']:.3f}"


st.subheader("Recommended split")
st.caption(
    "Recommended "
    + payload["recommendation"]
    + ". Queries and tokens default to Sardana et al.'s cost-calculator anchors (1e9 requests of 70 + 215 LMSys "
    "tokens)."
)
widgets.metric_grid(
    [
        *((f"optimum share: {LABEL[a]}", f"{o['shares'][a]:.2%}", None) for a in AX),
        (
            "optimum N (params)",
            widgets.human(o["N"], 4),
            "95% of the replicates' own optima: "
            + (
                "-".join(widgets.human(v, 3) for v in o["intervals_95"]["N"])
                if o["intervals_95"].get("N")
                else "n/a"
            ),
        ),
        ("optimum D (tokens)", widgets.human(o["D"], 4), f"{o['tokens_per_param']:.4g} tokens per parameter"),
        ("optimum samples per query", f"{o['samples_per_query']:.4g}", None),
        ("optimum metric", f"{o['metric']['value']:.4f}", payload["metric_name"]),
        ("optimum metric 95% band", band(o["metric"]), "widened where a link is extrapolated"),
        ("optimum cost (US dollars)", f"{o['usd']['total']:.4g}", f"{o['flops']['total']:.4g} FLOPs"),
    ],
    per_row=4,
)
flags = [k for k, f in payload["extrapolation"]["optimum"]["links"].items() if f["outside"]]
if flags:
    st.warning(
        "Outside the range the fits saw (the band is widened): "
        + ", ".join(_flag_text(k, payload["extrapolation"]["optimum"]["links"][k]) for k in flags)
    )

xo = payload.get("optimum_extrapolated")
if xo is not None:
    bad = [k for k, f in payload["extrapolation"]["optimum_extrapolated"]["links"].items() if f["outside"]]
    st.warning(
        "**Outside the data (not recommended).** The fits would give a higher metric with "
        + ", ".join(f"{LABEL[a]} {xo['shares'][a]:.1%}" for a in AX)
        + f", N {widgets.human(xo['N'], 3)}, {xo['samples_per_query']:.4g} samples per query: metric "
        f"{xo['metric']['value']:.4f} (band {band(xo['metric'])}), but only by extrapolating "
        + ", ".join(sorted(bad))
        + ". The recommendation above stays inside what the fits saw: more than one sample per query only at "
        "accuracies the store's per-problem counts covered"
        + (
            f" ({payload['links']['difficulty']['ranges']['mu'][0]:.2%}-"
            f"{payload['links']['difficulty']['ranges']['mu'][1]:.2%})"
            if "mu" in payload["links"]["difficulty"]["ranges"]
            else " (none: the tail exponent is assumed)"
        )
        + ", and no more RL compute than the RL fit saw. Tick *Recommend outside the data* to adopt it."
    )

st.subheader("Your split")
c = st.columns(3)
p_pre = c[0].slider("pretraining (%)", 0.0, 100.0, step=0.1, key=K + "pre")
p_rl = c[1].slider("RL (%)", 0.0, 100.0, step=0.1, key=K + "rl_share", disabled=rl == "none")
p_tt = round(100.0 - p_pre - p_rl, 6)
c[2].metric("test time (%)", f"{p_tt:.1f}")
if p_tt < 0:
    st.error("Pretraining and RL shares add up to more than 100%.")
    st.stop()
split = (p_pre / 100, 0.0 if rl == "none" else p_rl / 100, max(p_tt, 0.0) / 100)
try:
    sp = sim.split_payload(chain, budget, split, opt)
except ValueError as e:  # the rest of the page (marginal returns at the optimum, scenarios) still shows
    st.error(f"Cannot simulate this split: {e}")
    sp = sim.split_payload(chain, budget, None, opt)
s = sp.get("split")
if s is not None:
    widgets.metric_grid(
        [
            ("split metric", f"{s['metric']['value']:.4f}", None),
            ("split metric 95% band", band(s["metric"]), None),
            ("split P(beats optimum)", f"{s['p_beats_optimum']:.2f}", "share of paired replicates"),
            ("split N (params)", widgets.human(s["N"], 4), None),
            ("split samples per query", f"{s['samples_per_query']:.4g}", None),
        ],
        per_row=5,
    )
    if s["unused_share"] > 1e-9:
        st.info(
            f"{s['unused_share']:.2%} of the budget is unused (test-time spend beyond what the demand can use"
            + ("" if extrapolate else ", or more samples than the data covers")
            + ")."
        )
mr = sp["marginal_return"]
st.markdown(
    f"**Marginal return at your {sp['marginal_return_at']}**: d(metric)/d(log budget) if the next 2% of budget goes "
    "to one axis"
)
st.dataframe(
    pl.DataFrame(
        {
            "axis": [LABEL[a] for a in AX],
            "marginal return": [mr[a]["value"] for a in AX],
            "95% low": [mr[a]["lo"] for a in AX],
            "95% high": [mr[a]["hi"] for a in AX],
            "outside the data": [", ".join(mr[a].get("outside", [])) for a in AX],
        }
    ),
    hide_index=True,
    key=K + "marginal",
    column_config={
        k: st.column_config.NumberColumn(format="%.4g") for k in ("marginal return", "95% low", "95% high")
    },
)
if curves.height:
    widgets.chart(cs.metric_vs_share(curves, o["shares"], payload["metric_name"]), "budget_metric_vs_share")

st.subheader("Reallocation from today")
base = cache.service("app.services.simulator:baseline_shares", chain.costs, float(budget[4]))
st.caption(
    "Baseline: the split of compute logged in the store ("
    + ", ".join(f"{LABEL[a]} {base['shares'][a]:.3%}" for a in AX)
    + "; RL GPU-hours and eval samples converted to FLOPs), applied to this budget and demand."
)
scen = []
cols = st.columns(2)
for i, (col, dflt) in enumerate(
    zip(cols, [("pretraining", "rl", 20.0, 1.0), ("pretraining", "test_time", 20.0, 2.0)], strict=True)
):
    with col:
        name = st.text_input(f"Scenario {i + 1}", f"scenario {i + 1}", key=K + f"s{i}.name")
        a, b = st.columns(2)
        src = a.selectbox(
            "move from", list(AX), AX.index(dflt[0]), key=K + f"s{i}.from", format_func=LABEL.get
        )
        dst = b.selectbox("to", list(AX), AX.index(dflt[1]), key=K + f"s{i}.to", format_func=LABEL.get)
        pct = a.number_input("% of its share", 0.0, 100.0, dflt[2], key=K + f"s{i}.pct")
        qf = b.number_input("queries x", 0.0, 1000.0, dflt[3], key=K + f"s{i}.qf")
        scen.append(sim.Scenario(name, src, dst, float(pct), float(qf)))
try:
    comp = sim.compare_with_baseline(chain, budget, base, tuple(scen))
except ValueError as e:
    st.error(f"Cannot compare scenarios: {e}")
    comp = None
if comp is not None:
    table = pl.DataFrame(comp["table"])
    st.dataframe(
        table.select(
            "scenario",
            "metric",
            "metric_lo",
            "metric_hi",
            "p_beats_baseline",
            "extrapolated",
            "note",  # visible without scrolling: why a row was adjusted or could not be simulated
            "share_pretraining",
            "share_rl",
            "share_test_time",
            "N",
            "samples_per_query",
            "queries",
        ),
        hide_index=True,
        key=K + "scenarios",
        column_config={
            **{k: st.column_config.NumberColumn(format="%.4f") for k in ("metric", "metric_lo", "metric_hi")},
            **{
                k: st.column_config.NumberColumn(format="percent")
                for k in ("share_pretraining", "share_rl", "share_test_time")
            },
            "N": st.column_config.NumberColumn(format="%.3e"),
            "queries": st.column_config.NumberColumn(format="%.3g"),
            "samples_per_query": st.column_config.NumberColumn(format="%.4g"),
            "p_beats_baseline": st.column_config.NumberColumn("P(beats baseline)", format="%.2f"),
        },
    )
    widgets.chart(
        cs.scenario_bars(
            table.select("scenario", "metric", "metric_lo", "metric_hi").drop_nulls("metric"),
            payload["metric_name"],
        ),
        "budget_scenarios",
    )
    ex = dict(payload["extrapolation"])
    if "extrapolation_split" in sp:
        ex["split"] = sp["extrapolation_split"]
    rows = sim.scenario_rows(
        {**payload, **{k: v for k, v in sp.items() if k != "extrapolation_split"}, "extrapolation": ex},
        cfg,
        "page",
    )
    rows += sim.comparison_rows(comp, cfg, budget)
    c = st.columns(3)
    export = {"simulate": {**payload, **sp}, "scenarios": comp["table"]}
    c[0].download_button(
        "Export JSON",
        json.dumps(export, default=str, indent=1),
        "budget_simulation.json",
        "application/json",
        key=K + "json",
    )
    c[1].download_button(
        "Export CSV", sim.export_csv(rows), "budget_scenarios.csv", "text/csv", key=K + "csv"
    )
    if c[2].button(
        "Save scenarios", key=K + "save", help="writes the scenarios table (a short write to the store)"
    ):
        try:
            ids = sim.save_rows(cache.db_state()[0], rows)
            st.success(f"Saved {len(ids)} scenarios (v_scenarios).")
        except Exception as e:  # a locked or read-only file: tell the user, keep the page
            st.error(f"Could not save: {e}. Use `scaling simulate --save` instead.")

with st.expander("Saved scenarios (v_scenarios)"):
    saved = cache.service("data.scenarios:list_scenarios")
    if saved.height == 0:
        st.caption("None saved yet: use Save scenarios above or `scaling simulate --save`.")
    else:
        st.dataframe(saved, hide_index=True, key=K + "saved")

with st.expander("Links, fitted ranges and assumptions"):
    st.dataframe(
        pl.DataFrame(
            [
                {
                    "link": k,
                    "source": v["label"],
                    "replicates": v["n_replicates"],
                    "params": json.dumps(v["params"]),
                    "fitted range": json.dumps(v["ranges"]),
                }
                for k, v in payload["links"].items()
            ]
        ),
        hide_index=True,
        key=K + "links",
    )
    st.dataframe(
        pl.DataFrame(
            [
                {
                    "assumption": a["name"],
                    "value": str(a["value"]),
                    "band": str(a["band"]),
                    "meaning": a["meaning"],
                }
                for a in payload["assumptions"]
            ]
        ),
        hide_index=True,
        key=K + "assumptions",
    )
    st.caption(f"{payload['n_replicates']} replicates. Costs: {json.dumps(payload['costs'])}")
