"""``scaling fit rl``: fit the ScaleRL sigmoid per RL run and shape the JSON payload and the fit records."""

from __future__ import annotations

import math
from typing import Any

from app.services.rl import (
    DEFAULT_TRANSIENT_FRACTION,
    fit_records,
    fit_runs,
    param_table,
    recipe_comparison,
    scale_dependence,
)


def _clean(v: Any) -> Any:
    """JSON-friendly copy: non-finite floats become None, recursively through dicts, lists and tuples."""
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def run(con, args) -> tuple[dict[str, Any], list[dict]]:
    """Run ``scaling fit rl`` from parsed CLI args; returns (payload, fit records).

    Parameters
    ----------
    con : duckdb connection (read-only)
    args : argparse.Namespace
        db, run (list of run ids or None), where, metric, x ("gpu_hours", "flops", "tokens" or "step"),
        transient_cut (fraction of each run's max compute, or None for the default 0.1), bootstrap (replicates per
        run), seed, include_flagged (keep runs flagged by ``run_flags`` in the size trend).

    Returns
    -------
    (dict, list of dict)
        Payload: metric, x, unit (GPU-hours, FLOPs, tokens, or "<algorithm> steps"), per-run results (A, B,
        C_mid, R0, 95% intervals, backtest error, power-law comparison, warnings, flags), runs that could not be
        fitted with the reason per run (e.g. no GPU-hours logged), the recipe comparison table, scale dependence and
        ``text`` (a short human summary); records: one sigmoid and one power-law fit record per run.

    Raises
    ------
    ValueError
        Empty selection, bad transient cut, or no run could be fitted (the CLI prints it and exits 2).
    """
    frac = DEFAULT_TRANSIENT_FRACTION if args.transient_cut is None else float(args.transient_cut)
    run_ids = tuple(args.run) if args.run else None
    fits = fit_runs(con, args.metric, run_ids, args.where, args.x, frac, int(args.bootstrap), int(args.seed))
    table = param_table(fits)
    per_run = []
    for f, row in zip(fits.runs, table.iter_rows(named=True), strict=True):
        s = f.sigmoid
        per_run.append(
            {
                "run_id": f.run_id,
                "labels": f.labels,
                "A": s.params["A"],
                "B": s.params["B"],
                "C_mid": s.params["C_mid"],
                "R0": f.R0,
                "R0_source": f.R0_note,
                "transient_cut": f.cut,
                "n_points": s.n_points,
                "rmse": s.extra.get("rmse"),
                "intervals_95": {
                    k: [_clean(row[f"{k}_lo"]), _clean(row[f"{k}_hi"])] for k in ("A", "B", "C_mid")
                },
                "A_profile_range": list(s.extra.get("A_profile_range", ())),
                "message": s.message,
                "flags": list(f.flags),
                "backtest": {k: v for k, v in (f.backtest or {}).items() if k != "rows"},
                "power_law": (
                    {"k": f.power.params["k"], "p": f.power.params["p"], "rmse": f.power.extra.get("rmse")}
                    if f.power
                    else {"error": f.power_error}
                ),
            }
        )
    comparison = recipe_comparison(fits, "recipe")
    payload: dict[str, Any] = {
        "axis": "rl",
        "law": "rl_sigmoid",
        "metric": fits.metric,
        "x": fits.x,
        "unit": fits.unit,
        "transient_fraction": frac,
        "bootstrap": {"n": fits.n_boot, "seed": fits.seed, "unit": "point"},
        "runs": per_run,
        "not_fitted": fits.errors,
        "recipe_comparison": comparison.to_dicts(),
        "scale_dependence": scale_dependence(fits, bool(getattr(args, "include_flagged", False))),
    }
    payload = _clean(payload)
    lines = [f"ScaleRL sigmoid fits of {fits.metric} vs {fits.unit} ({len(fits.runs)} runs, R0 from step 0)"]
    for r in per_run:
        a_lo, a_hi = r["intervals_95"]["A"]
        iv = f" [{a_lo:.3f}, {a_hi:.3f}]" if a_lo is not None else ""
        bt = r["backtest"].get("mean_abs_error")
        lines.append(
            f"  {r['run_id']}: A = {r['A']:.3f}{iv}, B = {r['B']:.3g}, C_mid = {r['C_mid']:.3g} {fits.unit}, "
            f"R0 = {r['R0']:.3f}" + (f", backtest MAE {bt:.3f}" if bt is not None else "")
        )
        lines += [f"    FLAG: {fl}" for fl in r["flags"]]
    for rid, err in fits.errors.items():
        lines.append(f"  {rid}: not fitted ({err})")
    sd = payload["scale_dependence"]
    lines.append(f"size trend: {sd['message']}")
    payload["text"] = "\n".join(lines)
    selection = {"where": args.where, "runs_requested": list(run_ids) if run_ids else None}
    options = {"transient_fraction": frac, "bootstrap": int(args.bootstrap), "seed": int(args.seed)}
    return payload, fit_records(fits, selection, options)
