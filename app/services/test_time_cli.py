"""``scaling fit test-time --what ...``: pass@k, coverage, majority@k, thinking tokens, cost frontier, adaptive
allocation, each as a JSON payload with a readable ``text`` and fit records."""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from app.services.test_time import (
    TIE_NOTES,
    UNPARSED_NOTES,
    adaptive_table,
    coverage_fits,
    frontier,
    majority_table,
    parse_ks,
    pass_at_k_table,
)
from app.services.test_time_fits import (
    STOP_METRICS,
    benchmark_units,
    json_rows,
    summary_coverage_fits,
    summary_rows,
    thinking_stops,
)
from app.settings import Settings

#: What ``--what`` can ask for.
WHAT = ("passk", "coverage", "majority", "thinking", "frontier", "adaptive")


def _num(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def _boot_seed(args) -> tuple[int, int]:
    settings = Settings.from_env()
    n_boot = getattr(args, "bootstrap", None)
    seed = getattr(args, "seed", None)
    return (settings.bootstrap if n_boot is None else int(n_boot)), (
        settings.seed if seed is None else int(seed)
    )


def parse_prices(items: list[str] | None) -> tuple | None:
    """``--price MODEL=P_IN,P_OUT`` items ($ per 1e6 tokens) as ``((model, P_in, P_out), ...)``.

    Raises
    ------
    ValueError
        An item without "=" or without two numbers >= 0.
    """
    out = []
    for item in items or ():
        model, _, vals = item.rpartition("=")
        try:
            p_in, p_out = (float(v) for v in vals.split(","))
        except ValueError:
            raise ValueError(
                f"--price {item!r}: give MODEL=P_IN,P_OUT in $ per 1M tokens, e.g. o4-mini=1.1,4.4"
            ) from None
        if not model or p_in < 0 or p_out < 0:
            raise ValueError(f"--price {item!r}: give MODEL=P_IN,P_OUT with prices >= 0")
        out.append((model, p_in, p_out))
    return tuple(out) or None


def run(con, args) -> tuple[dict[str, Any], list[dict]]:
    """Run the analysis ``args.what`` asks for (default ``passk``); returns (payload, fit records).

    ``passk``: pass@k per configuration plus the coverage fits (as before ``--what`` existed); ``coverage``: the
    coverage law per configuration (per-problem counts with bootstrap, and eval summary tables); ``majority``:
    majority@k per k with the tie policy; ``thinking``: accuracy vs thinking tokens and the stopping point from
    the fitted curve; ``frontier``: the cost-accuracy Pareto frontier per benchmark; ``adaptive``: uniform vs
    per-difficulty samples per problem.

    Raises
    ------
    ValueError
        Unknown ``--what``, or as the analysis called.

    Notes
    -----
    Chen et al. (2021) arXiv:2107.03374; Brown et al. (2024) arXiv:2407.21787; Wu et al. (2024) arXiv:2408.00724;
    Muennighoff et al. (2025) arXiv:2501.19393; Kapoor et al. (2024) arXiv:2407.01502; Snell et al. (2024)
    arXiv:2408.03314.
    """
    what = getattr(args, "what", None) or "passk"
    if what not in WHAT:
        raise ValueError(f"--what must be one of {', '.join(WHAT)}, got {what!r}")
    if what == "passk":
        return run_passk(con, args)
    return {
        "coverage": run_coverage,
        "majority": run_majority,
        "thinking": run_thinking,
        "frontier": run_frontier,
        "adaptive": run_adaptive,
    }[what](con, args)


def run_passk(con, args) -> tuple[dict[str, Any], list[dict]]:
    """Run pass@k and the coverage fits from parsed CLI args; returns (payload, fit records).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Read-only connection.
    args : argparse.Namespace
        ``where`` (SQL filter over ``v_eval_by_problem``), ``k`` (comma-separated text), optional ``bootstrap`` and
        ``seed`` (default: ``SCALING_BOOTSTRAP`` / ``SCALING_SEED``).

    Returns
    -------
    (dict, list of dict)
        Payload keys: where, k, pass_at_k (rows per model, benchmark, setting; ``pass@<k>`` fractions, null where
        k > n of that configuration), coverage_fits (a, b with 95% bootstrap intervals, coverage@k_max), notes,
        text. Records: one coverage fit record per configuration with n >= max k (axis "test_time").

    Raises
    ------
    ValueError
        Malformed ``--k`` (e.g. "1,x"), k larger than every configuration's n, a bad filter, empty selection.

    Notes
    -----
    Chen et al. (2021), arXiv:2107.03374 (pass@k); Brown et al. (2024), arXiv:2407.21787 (coverage law).
    """
    ks = parse_ks(args.k)
    n_boot, seed = _boot_seed(args)
    table = pass_at_k_table(con, ks, args.where)
    fits = coverage_fits(con, args.where, n_boot, seed)
    k_top = max(ks)
    keep = [i for i, k in enumerate(fits.table["k_max"].to_list()) if k >= k_top]
    fit_rows = fits.table[keep] if keep else fits.table.clear()
    fit_keys = {tuple(r[c] for c in ("model", "benchmark", "setting")) for r in fit_rows.to_dicts()}
    records = [
        r
        for r in fits.records
        if tuple(r["selection"][c] for c in ("model", "benchmark", "setting")) in fit_keys
    ]
    coverage = [
        {
            "model": r["model"],
            "benchmark": r["benchmark"],
            "setting": r["setting"],
            "n_problems": r["n_problems"],
            "k_max": r["k_max"],
            "a": r["a"],
            "a_ci95": [_num(r["a_lo"]), _num(r["a_hi"])],
            "b": r["b"],
            "b_ci95": [_num(r["b_lo"]), _num(r["b_hi"])],
            "coverage@k_max": r["coverage@k_max"],
            "coverage@k_max_ci95": [_num(r["cov_lo"]), _num(r["cov_hi"])],
            "fit_mean_abs_err": r["mean_abs_err"],
            "success": r["success"],
        }
        for r in fit_rows.to_dicts()
    ]
    try:
        _, maj_note = majority_table(con, args.where)
    except ValueError:  # the filter names count columns absent from eval_samples: no answers to vote on
        maj_note = "majority@k not checked: the filter does not apply to per-answer rows"
    notes = []
    n_short = table.filter(table["n_min"] < k_top).height
    if n_short:
        notes.append(
            f"{n_short} configuration(s) have fewer than {k_top} samples per problem: their pass@k is null for "
            "k > n, and no coverage law is fitted to them"
        )
    if maj_note:
        notes.append(maj_note)
    summ = summary_rows(con, args.where).filter((pl.col("measure") == "pass@k") & pl.col("k").is_in(list(ks)))
    if summ.height:
        notes.append(
            f"{summ.height} pass@k value(s) at the requested k come from eval summary tables (summary_pass_at_k)"
        )
    payload: dict[str, Any] = {
        "what": "passk",
        "where": args.where,
        "k": list(ks),
        "estimator": "unbiased pass@k = 1 - C(n-c, k)/C(n, k), mean over problems (Chen et al. 2021, arXiv:2107.03374)",
        "pass_at_k": table.to_dicts(),
        "coverage_law": "coverage(k) = exp(a k^b) (Brown et al. 2024, arXiv:2407.21787)",
        "bootstrap": {"n": n_boot, "seed": seed, "unit": "problem"},
        "coverage_fits": coverage,
        "summary_pass_at_k": json_rows(
            summ.select(
                "model", "benchmark", "setting", "k", pl.col("value").alias("pass_at_k"), "n_problems"
            )
        ),
        "notes": notes,
    }
    lines = [f"pass@k ({', '.join(map(str, ks))}) per model / benchmark / setting"]
    for r in table.to_dicts():
        vals = "  ".join(
            f"pass@{k}={r[f'pass@{k}']:.4f}" if r[f"pass@{k}"] is not None else f"pass@{k}=n/a" for k in ks
        )
        lines.append(f"  {r['model']} / {r['benchmark']} / {r['setting']} (n={r['n_min']}): {vals}")
    for r in summ.iter_rows(named=True):
        lines.append(
            f"  {r['model']} / {r['benchmark']} / {r['setting']} (summary table, n={r['n_problems']} problems): "
            f"pass@{r['k']}={r['value']:.4f}"
        )
    if coverage:
        lines.append("coverage law exp(a k^b):")
        for c in coverage:
            ci = f" a in [{c['a_ci95'][0]:.3f}, {c['a_ci95'][1]:.3f}]" if c["a_ci95"][0] is not None else ""
            lines.append(
                f"  {c['model']} / {c['benchmark']}: a={c['a']:.4f} b={c['b']:.4f}{ci}; "
                f"coverage@{c['k_max']}={c['coverage@k_max']:.4f}"
            )
    lines += [f"note: {n}" for n in notes]
    payload["text"] = "\n".join(lines)
    return payload, records


def _what_payload(what: str, args, **kw: Any) -> dict[str, Any]:
    return {"what": what, "where": getattr(args, "where", None), **kw}


def run_coverage(con, args) -> tuple[dict[str, Any], list[dict]]:
    """Coverage law c(k) = exp(a k^b) per configuration: per-problem counts (bootstrap) and summary tables.

    Returns
    -------
    (dict, list of dict)
        Payload: per_problem (a, b with 95% intervals, coverage@k_max, fit@k_max, mean_abs_err), summary (the
        same fit on the pass@k points of eval summary tables, no interval), skipped, notes, text.
    """
    n_boot, seed = _boot_seed(args)
    try:
        fits = coverage_fits(con, args.where, n_boot, seed)
        per_problem, records, skipped = json_rows(fits.table), list(fits.records), list(fits.skipped)
    except ValueError as e:
        if "bad filter" not in str(e):
            raise
        per_problem, records, skipped = [], [], [f"per-problem counts: {e}"]
    summ, srecs = summary_coverage_fits(con, args.where)
    summary = json_rows(summ)
    lines = ["coverage law c(k) = exp(a k^b) (Brown et al. 2024, arXiv:2407.21787)"]
    for r in per_problem:
        ci = f" [{r['a_lo']:.3f}, {r['a_hi']:.3f}]" if r["a_lo"] is not None else ""
        lines.append(
            f"  {r['model']} / {r['benchmark']} / {r['setting']}: a={r['a']:.4f}{ci} b={r['b']:.4f}; "
            f"coverage@{r['k_max']}={r['coverage@k_max']:.4f} (n={r['n_problems']} problems, per-problem counts)"
        )
    for r in summary:
        lines.append(
            f"  {r['model']} / {r['benchmark']} / {r['setting']}: a={r['a']:.4f} b={r['b']:.4f}; "
            f"coverage@{r['k_max']}={r['coverage@k_max']:.4f} (summary table, {r['n_k']} k values, no interval)"
        )
    if not per_problem and not summary:
        lines.append(
            "  nothing fitted: no configuration with >= 10 samples per problem or >= 3 pass@k points"
        )
    lines += [f"  not fitted: {m}" for m in skipped]
    payload = _what_payload(
        "coverage", args, bootstrap={"n": n_boot, "seed": seed, "unit": "problem"}, per_problem=per_problem,
        summary=summary, skipped=skipped,
    )  # fmt: skip
    payload["text"] = "\n".join(lines)
    return payload, records + srecs


def run_majority(con, args) -> tuple[dict[str, Any], list[dict]]:
    """majority@k for every k of ``--k`` (each <= n) with the tie policy ``--ties`` and seed ``--seed``.

    Returns
    -------
    (dict, list)
        Payload: k, ties, unparsed, seed, n_subsets, rows (model, benchmark, setting, n_problems, n_answers,
        n_unparsed, pass@1, majority@<k>, ties@<k>), note, text. No fit records.
    """
    ks = parse_ks(args.k)
    _, seed = _boot_seed(args)
    ties = getattr(args, "ties", None) or "random"
    unparsed = getattr(args, "unparsed", None) or "abstain"
    n_sub = int(getattr(args, "subsets", None) or 100)
    table, note = majority_table(con, args.where, ks, n_sub, seed, ties, unparsed)
    rows = json_rows(table)
    lines = [f"majority@k ({', '.join(map(str, ks))}), ties: {TIE_NOTES[ties]}; seed {seed}"]
    for r in rows:
        vals = "  ".join(
            f"maj@{k}={r[f'majority@{k}']:.4f} (ties {r[f'ties@{k}']})"
            if r[f"majority@{k}"] is not None
            else f"maj@{k}=n/a"
            for k in ks
        )
        lines.append(
            f"  {r['model']} / {r['benchmark']} / {r['setting']} ({r['n_problems']} problems, {r['n_unparsed']} "
            f"unparsed of {r['n_answers']}): pass@1={r['pass@1']:.4f}  {vals}"
        )
    if note:
        lines.append(f"note: {note}")
    payload = _what_payload(
        "majority", args, k=list(ks), ties=ties, tie_rule=TIE_NOTES[ties], unparsed=unparsed,
        unparsed_rule=UNPARSED_NOTES[unparsed], seed=seed, n_subsets=n_sub, rows=rows, note=note,
        estimator="mean over problems of the plurality vote's correctness over random size-k subsets "
        "(Brown et al. 2024, arXiv:2407.21787, Sec. 4; limit: Wu et al. 2024, arXiv:2408.00724)",
    )  # fmt: skip
    payload["text"] = "\n".join(lines)
    return payload, []


def run_thinking(con, args) -> tuple[dict[str, Any], list[dict]]:
    """Thinking-token curves, their fits and the stopping point from the fitted marginal gain, with intervals.

    Returns
    -------
    (dict, list of dict)
        Payload: threshold, metric (and its unit), bootstrap, stops (one row per curve: form, T_stop with 95%
        interval, status, stop_level, parameters with intervals, price_basis for $), notes, text; records: one
        fit record per curve.
    """
    n_boot, seed = _boot_seed(args)
    metric = "gain_per_usd" if getattr(args, "gain_per", None) == "usd" else "gain_per_1k_tokens"
    thr = float(getattr(args, "threshold", None) or 0.01)
    prices = parse_prices(getattr(args, "price", None))
    table, records, notes = thinking_stops(con, args.where, thr, metric, prices, n_boot, seed)
    rows = json_rows(table)
    lines = [
        f"thinking tokens: stop where the FITTED curve gains < {thr:g} ({STOP_METRICS[metric]}); "
        f"95% interval from {n_boot} bootstrap replicates"
    ]
    for r in rows:
        iv = f" [{r['T_stop_lo']:.0f}, {r['T_stop_hi']:.0f}]" if r["T_stop_lo"] is not None else ""
        lines.append(
            f"  {r['model']} / {r['benchmark']} ({r['data']}, {r['n_levels']} levels, {r['form']}): stop at "
            f"{r['T_stop']:.0f}{iv} tokens per answer, acc {r['acc_stop']:.3f}, {r['stop_status']}; "
            f"last level at or below: {r['stop_level']}"
        )
    lines += [f"note: {n}" for n in notes]
    payload = _what_payload(
        "thinking", args, threshold=thr, metric=metric, metric_unit=STOP_METRICS[metric],
        bootstrap={"n": n_boot, "seed": seed}, stops=rows, notes=notes,
    )  # fmt: skip
    payload["text"] = "\n".join(lines)
    return payload, records


def run_frontier(con, args) -> tuple[dict[str, Any], list[dict]]:
    """Cost-accuracy Pareto frontier and upper hull per benchmark, in the unit chosen per benchmark.

    ``--unit`` picks the unit where the benchmark supports it; otherwise (and by default) the first of tokens,
    usd, latency_s that the benchmark's answers support. USD uses the logged ``cost_usd`` where present and the
    price list (``--price``) only for the rest; the notes say which.

    Returns
    -------
    (dict, list)
        Payload: benchmarks (per benchmark: unit, units available, points, hull, cheapest for ``--target``,
        prices_used, notes), text. No fit records.
    """
    prices = parse_prices(getattr(args, "price", None))
    target = getattr(args, "target", None)
    units = benchmark_units(con, args.where)
    want = getattr(args, "unit", None)
    only = getattr(args, "benchmark", None)
    out, lines = [], ["cost-accuracy frontier (Kapoor et al. 2024, arXiv:2407.01502)"]
    for bench, avail in units.items():
        if only and bench != only:
            continue
        if not avail:
            lines.append(f"  {bench}: no cost unit (no token counts, costs or latencies logged)")
            continue
        unit = want if want in avail else avail[0]
        fr = frontier(con, bench, unit, prices, target, True, args.where)
        pts = fr["points"].sort("cost")
        entry = {
            "benchmark": bench, "unit": unit, "units_available": avail, "points": json_rows(pts),
            "hull": json_rows(fr["hull"]), "cheapest": fr["cheapest"], "prices_used": fr["prices_used"],
            "notes": fr["notes"],
        }  # fmt: skip
        out.append(entry)
        lines.append(f"  {bench} (cost in {unit} per question; available: {', '.join(avail)}):")
        for r in pts.filter(pts["on_frontier"]).iter_rows(named=True):
            lines.append(f"    {r['config']}: cost {r['cost']:.4g}, accuracy {r['accuracy']:.4f}")
        ch = fr["cheapest"]
        if ch:
            lines.append(
                f"    cheapest to reach {target:g}: "
                + (
                    f"{ch['cost']:.4g} ({', '.join(f'{c} p={w:.2f}' for c, w in ch['configs'])})"
                    if ch["reachable"]
                    else "unreachable"
                )
            )
        lines += [f"    note: {n}" for n in fr["notes"]]
    if only and only not in units:
        raise ValueError(
            f"no per-answer rows for benchmark {only!r}; benchmarks: {', '.join(units) or 'none'}"
        )
    payload = _what_payload("frontier", args, target=target, benchmarks=out)
    payload["text"] = "\n".join(lines)
    return payload, []


def run_adaptive(con, args) -> tuple[dict[str, Any], list[dict]]:
    """Uniform vs per-difficulty samples per problem for a target coverage (``--target``, default 0.5).

    Returns
    -------
    (dict, list)
        Payload: target, split_half, rows (model, benchmark, setting, uniform and adaptive samples per problem,
        saving, note), caveat, text. No fit records.
    """
    _, seed = _boot_seed(args)
    target = float(getattr(args, "target", None) or 0.5)
    split = bool(getattr(args, "split_half", False))
    summary, _ = adaptive_table(con, args.where, target, split, seed)
    rows = json_rows(summary)
    lines = [f"adaptive allocation for coverage {target:g} (Snell et al. 2024, arXiv:2408.03314)"]
    for r in rows:
        if r["uniform_samples_per_problem"] is None:
            lines.append(f"  {r['model']} / {r['benchmark']} / {r['setting']}: {r['note']}")
        else:
            lines.append(
                f"  {r['model']} / {r['benchmark']} / {r['setting']}: uniform k={r['uniform_samples_per_problem']:.0f}, "
                f"adaptive mean k={r['adaptive_samples_per_problem']:.2f}, saving {r['saving']:.1%}"
            )
    if not rows:
        lines.append("  no configuration with >= 10 samples per problem")
    caveat = (
        "difficulty and allocation from halves of each problem's samples"
        if split
        else "difficulty estimated on the same samples (optimistic); use --split-half for an honest estimate"
    )
    lines.append(f"note: {caveat}")
    payload = _what_payload("adaptive", args, target=target, split_half=split, rows=rows, caveat=caveat)
    payload["text"] = "\n".join(lines)
    return payload, []


def summary_table(con, where: str | None = None) -> list[dict]:
    """Rows of ``v_eval_summary`` as JSON-ready dicts (for scripts)."""
    return json_rows(summary_rows(con, where))
