"""``scaling fit pretraining``: select, fit, and shape the JSON payload and the fit record."""

from __future__ import annotations

from typing import Any

from app.numfmt import human
from app.services.common import fit_record
from app.services.pretraining import REPORT_BUDGETS, allocation_table, fit_pretraining, select_points

#: Analyses beyond single laws that ``--law`` also accepts.
EXTRA_ANALYSES = ("overtraining", "approaches", "datamix")


def run(con, args) -> tuple[dict[str, Any], list[dict]]:
    """Run one pretraining fit from parsed CLI args; returns (payload, [fit record])."""
    if args.law in EXTRA_ANALYSES:
        return _run_extra(con, args)
    points = select_points(con, args.source, args.where)
    selection = {"source": args.source, "where": args.where}
    fit = fit_pretraining(
        points,
        law=args.law,
        selection=selection,
        n_boot=args.bootstrap,
        seed=args.seed,
        backtest=args.backtest,
        method=args.method,
    )
    r = fit.result
    payload: dict[str, Any] = {
        "law": r.law,
        "source": args.source,
        "where": args.where,
        "params": r.params,
        "n_points": r.n_points,
        "n_runs": points.height,
        "objective": r.objective,
        "loss": r.loss,
        "delta": r.delta,
        "optimizer": r.optimizer,
        "n_starts": r.n_starts,
        "grad_norm": r.grad_norm,
        "success": r.success,
        "message": r.message,
        "derived": r.derived,
    }
    if r.bootstrap is not None:
        payload["bootstrap"] = {
            "n": r.bootstrap.n,
            "seed": args.seed,
            "child_seed": r.bootstrap.seed,
            "n_failed": r.bootstrap.n_failed(),
            "intervals_95": r.bootstrap.intervals(0.95),
        }
    if r.law == "chinchilla":
        payload["compute_optimal"] = allocation_table(r, REPORT_BUDGETS).to_dicts()
    if fit.backtest is not None:
        payload["backtest"] = {k: v for k, v in fit.backtest.items() if k != "rows"}
    payload["checklist"] = fit.checklist
    lines = [
        f"{r.law} fit to {r.n_points} points of {points.height} runs ({args.source or 'all sources'}"
        + (f", where {args.where}" if args.where else "")
        + ")"
    ]
    for k, v in {**r.params, **r.derived}.items():
        lo, hi = r.interval(k)
        ci = f"   95% CI [{lo:.4g}, {hi:.4g}]" if lo == lo else ""
        lines.append(f"  {k:>8} = {v:<12.6g}{ci}")
    gn = "n/a" if r.grad_norm is None else f"{r.grad_norm:.2e}"
    lines.append(
        f"  objective = {r.objective:.6g} ({r.loss}, delta {r.delta}), grad norm = {gn}, {r.n_starts} starts"
    )
    if "compute_optimal" in payload:
        lines.append("  compute-optimal allocation:")
        for row in payload["compute_optimal"]:
            lines.append(
                f"    C = {row['compute_flops']:.3g} FLOPs: N_opt = {human(row['N_opt'])}, D_opt = {human(row['D_opt'])}, "
                f"tokens/param = {row['tokens_per_param']:.1f}"
            )
    bt = payload.get("backtest")
    if bt and "n_test" in bt:
        lines.append(
            f"  backtest: fitted on {bt['n_train']} runs up to {bt['cutoff_flops']:.3g} FLOPs; mean |error| "
            f"{bt['mean_abs_rel_error']:.2%}, max {bt['max_abs_rel_error']:.2%} on {bt['n_test']} larger runs "
            f"(up to {bt['max_extrapolation_ratio']:.1f}x); inside 95% interval: "
            + ("n/a" if bt.get("coverage") is None else f"{bt['coverage']:.0%}")
        )
    elif bt:
        lines.append(f"  backtest: {bt.get('error')}")
    payload["text"] = "\n".join(lines)
    options = {
        "law": args.law,
        "method": args.method,
        "bootstrap": args.bootstrap,
        "seed": args.seed,
        "backtest": args.backtest,
    }
    rec = fit_record("pretraining", r, selection, options, backtest=fit.backtest, checklist=fit.checklist)
    return payload, [rec]


def _frame_records(df) -> list[dict]:
    return df.to_dicts() if df is not None else []


def _run_extra(con, args) -> tuple[dict[str, Any], list[dict]]:
    """``--law overtraining | approaches | datamix``."""
    if not args.source:
        raise ValueError(f"--law {args.law} needs --source")
    n_boot = args.bootstrap
    if args.law == "overtraining":
        from app.services.laws_extra import fit_overtraining_and_error

        fit = fit_overtraining_and_error(
            con, args.source, args.where, err_metric=args.err_metric, n_boot=n_boot, seed=args.seed
        )
        payload = {
            "law": "overtraining",
            "source": args.source,
            "where": args.where,
            "params": fit.loss_fit.params,
            "n_points": fit.loss_fit.n_points,
            "fit_runs": fit.loss_fit_runs,
            "intervals_95": fit.loss_fit.bootstrap.intervals() if fit.loss_fit.bootstrap else {},
            "derived": fit.loss_fit.derived,
            "error_law": None
            if fit.error_fit is None
            else {
                "params": fit.error_fit.params,
                "n_points": fit.error_fit.n_points,
                "fit_runs": fit.error_fit_runs,
            },
            "backtest": _frame_records(fit.backtest),
        }
        payload["text"] = "over-training law " + ", ".join(
            f"{k}={v:.4g}" for k, v in fit.loss_fit.params.items()
        )
        return payload, list(fit.records)
    if args.law == "approaches":
        from app.services.approaches import compare_approaches

        cmp = compare_approaches(
            con, args.source, args.where, budget=args.budget, n_boot=n_boot or 20, seed=args.seed
        )
        payload = {
            "law": "approaches",
            "source": args.source,
            "where": args.where,
            "budget_flops": args.budget,
            "approaches": _frame_records(cmp.table),
            "notes": cmp.notes,
        }
        payload["text"] = str(cmp.table)
        recs = [
            fit_record(
                "pretraining",
                r,
                {"source": args.source, "where": args.where, "approach": name},
                {"law": "approaches", "bootstrap": n_boot, "budget": args.budget},
            )
            for name, r in cmp.fits.items()
            if r is not None
        ]
        return payload, recs
    from app.services.datamix import compare_corpora

    mix = compare_corpora(
        con,
        args.source,
        args.where,
        budget=args.budget,
        reference=args.reference,
        n_boot=n_boot or 50,
        seed=args.seed,
    )
    payload = {
        "law": "datamix",
        "source": args.source,
        "where": args.where,
        "budget_flops": args.budget,
        "corpora": _frame_records(mix.table),
    }
    payload["text"] = str(mix.table)
    recs = [
        fit_record(
            "pretraining",
            r,
            {"source": args.source, "where": args.where, "corpus": corpus},
            {"law": "datamix", "bootstrap": n_boot},
        )
        for corpus, r in mix.fits.items()
    ]
    return payload, recs
