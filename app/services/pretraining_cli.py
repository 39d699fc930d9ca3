"""``scaling fit pretraining``: select, fit, and shape the JSON payload and the fit record."""

from __future__ import annotations

from typing import Any

from app.services.common import fit_record
from app.services.pretraining import REPORT_BUDGETS, allocation_table, fit_pretraining, select_points


def run(con, args) -> tuple[dict[str, Any], list[dict]]:
    """Run one pretraining fit from parsed CLI args; returns (payload, [fit record])."""
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
            "seed": r.bootstrap.seed,
            "n_failed": r.bootstrap.n_failed(),
            "intervals_95": r.bootstrap.intervals(0.95),
        }
    if r.law == "chinchilla":
        payload["compute_optimal"] = allocation_table(r, REPORT_BUDGETS).to_dicts()
    if fit.backtest is not None:
        payload["backtest"] = {k: v for k, v in fit.backtest.items() if k != "rows"}
    payload["checklist"] = fit.checklist
    lines = [f"{r.law} fit to {r.n_points} points ({args.source or 'all sources'})"]
    lines += [f"  {k:>8} = {v:.6g}" for k, v in r.params.items()]
    lines += [
        f"  objective = {r.objective:.6g}, grad norm = {r.grad_norm if r.grad_norm is None else f'{r.grad_norm:.2e}'}"
    ]
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
