"""``scaling fit test-time``: pass@k per configuration and the coverage-law fit, as a JSON payload and fit records."""

from __future__ import annotations

import math
from typing import Any

from app.services.test_time import coverage_fits, majority_table, parse_ks, pass_at_k_table
from app.settings import Settings


def _num(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def run(con, args) -> tuple[dict[str, Any], list[dict]]:
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
    settings = Settings.from_env()
    n_boot = getattr(args, "bootstrap", None)
    n_boot = settings.bootstrap if n_boot is None else int(n_boot)
    seed = getattr(args, "seed", None)
    seed = settings.seed if seed is None else int(seed)
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
    payload: dict[str, Any] = {
        "where": args.where,
        "k": list(ks),
        "estimator": "unbiased pass@k = 1 - C(n-c, k)/C(n, k), mean over problems (Chen et al. 2021, arXiv:2107.03374)",
        "pass_at_k": table.to_dicts(),
        "coverage_law": "coverage(k) = exp(a k^b) (Brown et al. 2024, arXiv:2407.21787)",
        "bootstrap": {"n": n_boot, "seed": seed, "unit": "problem"},
        "coverage_fits": coverage,
        "notes": notes,
    }
    lines = [f"pass@k ({', '.join(map(str, ks))}) per model / benchmark / setting"]
    for r in table.to_dicts():
        vals = "  ".join(
            f"pass@{k}={r[f'pass@{k}']:.4f}" if r[f"pass@{k}"] is not None else f"pass@{k}=n/a" for k in ks
        )
        lines.append(f"  {r['model']} / {r['benchmark']} / {r['setting']} (n={r['n_min']}): {vals}")
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
