"""Test-time scaling: repeated sampling (pass@k, coverage law), thinking tokens, cost frontier, adaptive allocation."""

import json

import polars as pl
import streamlit as st

from app import cache, charts_tt, widgets
from app.services import test_time as tt
from app.services.test_time_fits import STOP_NOTE

_SHOWN: set[str] = set()


def ui_message(e: Exception) -> str:
    """The service's message in the page's words (the services also serve the CLI's --k and --where)."""
    return str(e).replace("--where", "the filter").replace("--k", "k values")


def call(name, *args, module="test_time"):
    """Cached service call; a ValueError (bad filter, bad input) becomes one st.error (not repeated) and None."""
    try:
        return cache.service(f"app.services.{module}:{name}", *args)
    except ValueError as e:
        msg = ui_message(e)
        if msg not in _SHOWN:
            _SHOWN.add(msg)
            st.error(msg)
        return None


def table(df: pl.DataFrame, key: str, labels: dict | None = None, first=(), hide=("benchmark",)) -> None:
    """A namespaced table: ``first`` columns lead, ``hide`` dropped if constant, gaps "–", token counts rounded."""
    df = tt.with_dashes(df)
    hide = [c for c in hide if c in df.columns and df[c].n_unique() == 1]
    order = [c for c in first if c in df.columns] + [
        c for c in df.columns if c not in first and c not in hide
    ]
    cfg = {c: st.column_config.Column(t) for c, t in (labels or {}).items()}
    tokens = [c for c in tt.TOKEN_COLUMNS if c in df.columns and df.schema[c].is_numeric()]
    cfg |= {c: st.column_config.NumberColumn(format="%.0f") for c in tokens}
    wide = {"setting": "medium", "config": "medium", "note": "large"}
    cfg |= {c: st.column_config.TextColumn(width=w) for c, w in wide.items() if c in df.columns}
    widgets.table(df, f"test_time_{key}", key=f"test_time.{key}", column_config=cfg, column_order=order)


def records_button(records: list, what: str) -> None:
    """Download the fit records (as ``data.fits.save_fit`` stores them) as JSON."""
    data = json.dumps(records, default=str, indent=1)
    st.download_button(
        f"Download {what} fit records (JSON)", data, f"test_time_{what}.json", key=f"test_time.dl_{what}"
    )


st.title("Test-time scaling")
s = cache.settings()
raw = st.text_input("Filter (SQL over model, benchmark, setting, run_id, problem_id)", key="test_time.where")
where = raw.strip() or None
units = call("cost_units", where) or {"units": [], "models": [], "benchmarks": []}
with st.expander("Prices ($ per 1M tokens) for USD costs: placeholders, edit them"):
    st.caption(tt.PRICE_NOTE)
    edited = st.data_editor(tt.price_frame(units["models"]), key="test_time.prices", disabled=["model"])
prices, price_error = tt.prices_from_frame(edited)
if price_error:
    st.error(price_error)
samples, thinking, frontier, adaptive = st.tabs(["Samples", "Thinking tokens", "Frontier", "Adaptive"])

with samples:
    k_text = st.text_input("k values for pass@k (comma-separated)", "1,10,100", key="test_time.k")
    try:
        ks = tt.parse_ks(k_text)
    except ValueError as e:
        st.error(ui_message(e))
        ks = None
    pk = call("pass_at_k_table", ks, where) if ks else None
    if pk is not None:
        table(pk.sort("n_min", descending=True, maintain_order=True), "pass_table")  # estimable k first
        st.caption(
            "Unbiased pass@k (Chen et al. 2021, arXiv:2107.03374), mean over problems. n_min: fewest samples of a "
            "problem; – where k > n_min (pass@k cannot be estimated from fewer than k samples)."
        )
    fits = call("coverage_fits", where, s.bootstrap, s.seed)
    if fits is not None and fits.table.height:
        chart = charts_tt.coverage_chart(fits.points, fits.curves, title="coverage vs k; dashed: exp(a k^b)")
        widgets.chart(chart, width="stretch", name="test_time_coverage")
        shown, note = tt.coverage_display(fits.table)
        table(shown, "coverage_table")
        st.caption(tt.COVERAGE_NOTE.format(n_boot=s.bootstrap) + (" " + note if note else ""))
        records_button(fits.records, "coverage")
    elif fits is not None:
        st.info("No configuration has enough samples per problem (>= 10) for a coverage curve.")
    if fits is not None and fits.skipped:
        st.caption(f"Not fitted: {len(fits.skipped)} configuration(s), e.g. {fits.skipped[0]}.")
    summ = call("summary_coverage_fits", where, module="test_time_fits")
    if summ is not None and summ[0].height:
        st.markdown(
            "**Coverage law on eval summary tables** (pass@k points as logged; no per-problem counts)"
        )
        table(summ[0], "summary_coverage")
    m1, m2 = st.columns(2)
    maj_k = m1.text_input("k values for majority@k", "1,5", key="test_time.maj_k")
    ties = m2.radio(
        "Ties", list(tt.TIE_NOTES), key="test_time.ties", horizontal=True, help=tt.TIE_NOTES["random"]
    )
    try:
        mks = tt.parse_ks(maj_k)
    except ValueError as e:
        st.error(ui_message(e))
        mks = None
    maj = call("majority_table", where, mks, 100, s.seed, ties) if mks else None
    if maj is not None and maj[0].height:
        table(maj[0], "majority_table")
    if maj is not None and maj[1]:
        st.info(maj[1])

with thinking:
    curves = call("thinking_curves", where)
    fit_out = call("thinking_fits", where, prices) if curves is not None else None
    if curves is not None and fit_out is not None and curves.height:  # answers without token counts: none
        benches = sorted(curves["benchmark"].unique().to_list())
        bench = st.selectbox("Benchmark", benches, key="test_time.think_bench")
        on = pl.col("benchmark") == bench
        chart = charts_tt.accuracy_tokens_chart(curves.filter(on), fit_out[1].filter(on), title=bench)
        widgets.chart(chart, width="stretch", name="test_time_accuracy_vs_tokens")
        st.caption(
            "Error bars: Wilson 95% intervals (answers treated as independent). Lines: fits in log tokens; "
            "– in the table: not fitted (linear needs >= 2 thinking levels, saturating >= 5)."
        )
        table(fit_out[0].filter(on), "think_fits", tt.THINK_FIT_LABELS)
        records_button(fit_out[2], "thinking")
        metric = st.radio(
            "Marginal gain per", list(tt.GAIN_UNITS), format_func=tt.GAIN_UNITS.get, key="test_time.metric"
        )
        thr = st.number_input(
            "Stop when the gain falls below (accuracy fraction per unit above)",
            value=0.01,
            format="%.4f",
            key="test_time.threshold",
        )
        mt = call("marginal_table", where, float(thr), metric, prices)
        if mt is not None:
            table(mt[0].filter(on), "marginal", first=tt.MARGINAL_FIRST)
            st.caption(
                "Raw differences between measured levels (noisy); the stop below uses the fitted curve."
            )
        stops = call(
            "thinking_stops", where, float(thr), metric, prices, s.bootstrap, s.seed, module="test_time_fits"
        )
        if stops is not None:
            first = (
                "model",
                "stop_level",
                "T_stop",
                "T_stop_lo",
                "T_stop_hi",
                "stop_status",
                "acc_stop",
                "form",
            )
            table(stops[0].filter(on), "stops", first=first)
            st.caption(STOP_NOTE.format(n_sat=tt.MIN_LEVELS_SATURATING, unit=f"{s.bootstrap} replicates"))
            for note in stops[2]:
                st.caption(note)

with frontier:
    if not units["units"]:
        st.info("No per-answer token counts or latencies: no cost frontier.")
    else:
        c1, c2, c3 = st.columns(3)
        fb = c1.selectbox("Benchmark", units["benchmarks"], key="test_time.front_bench")
        per_bench = call("benchmark_units", where, module="test_time_fits") or {}
        unit = c2.radio(
            "Cost unit", per_bench.get(fb) or units["units"], key="test_time.unit", horizontal=True
        )
        target = c3.number_input("Target accuracy", 0.0, 1.0, 0.25, 0.01, key="test_time.target")
        mixing = st.checkbox("Allow per-query mixing of two configurations", True, key="test_time.mixing")
        fr = call("frontier", fb, unit, prices if unit == "usd" else None, float(target), mixing, where)
        if fr is not None:
            label = tt.COST_LABELS[unit]
            chart = charts_tt.frontier_chart(
                fr["points"], fr["hull"], unit_title=f"cost: {label} per question (log)"
            )
            widgets.chart(chart, width="stretch", name="test_time_cost_frontier")
            ch = fr["cheapest"]
            if ch and ch["reachable"]:
                st.metric(f"cheapest cost to reach {target:.3f} ({label} per question)", f"{ch['cost']:.4g}")
                st.write("Configuration: " + " + ".join(f"{c} (p = {w:.2f})" for c, w in ch["configs"]))
            else:
                st.warning(f"No configuration (or mixture) reaches accuracy {target:.3f} on {fb}.")
            for note in fr["notes"]:
                st.caption(note)
            names = {"cost": f"cost_{unit}_per_question", "cost_total": f"total_{unit}"}
            first = ("model", "setting", names["cost"], "accuracy", "on_frontier", "on_hull", "n_questions")
            table(fr["points"].sort("cost").rename(names), "front_points", first=first)

with adaptive:
    goal = st.number_input("Target coverage", 0.01, 1.0, 0.5, 0.05, key="test_time.adapt_target")
    split = st.checkbox("Split-half difficulty estimate", False, key="test_time.split_half")
    res = call("adaptive_table", where, float(goal), split, s.seed)
    if res is not None and res[0].height:
        widgets.chart(
            charts_tt.adaptive_chart(res[0], title=f"samples per problem for coverage {goal:.2f}"),
            name="test_time_adaptive",
        )
        table(res[0], "adaptive", tt.ADAPTIVE_LABELS, first=["model", *tt.ADAPTIVE_LABELS], hide=tt.CONFIG)
        st.caption(tt.ADAPTIVE_NOTE + (tt.SPLIT_CAVEAT if split else tt.ORACLE_CAVEAT))
    elif res is not None:
        st.info(
            "No configuration with >= 10 samples per problem: adaptive allocation needs repeated samples."
        )
