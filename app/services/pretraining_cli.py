"""``scaling fit pretraining``: select, fit, and shape the JSON payload and the fit record."""

from __future__ import annotations

from typing import Any

from app.numfmt import human
from app.services.common import fit_record
from app.services.pretraining import (
    DEFAULT_BUDGET,
    REPORT_BUDGETS,
    allocation_table,
    budget_warnings,
    describe_constraints,
    fit_pretraining,
    fit_warnings,
    parse_constraints,
    predict,
    select_points,
)

#: Analyses beyond single laws that ``--law`` also accepts.
EXTRA_ANALYSES = ("overtraining", "approaches", "datamix")


def _budget(args) -> float | None:
    return getattr(args, "budget", None)


def run(con, args) -> tuple[dict[str, Any], list[dict]]:
    """Run one pretraining fit from parsed CLI args; returns (payload, [fit record]).

    ``--budget`` is honoured by every law that has a compute-optimal point or a loss at a budget (chinchilla:
    N_opt, D_opt, tokens per parameter; compute: predicted loss) and refused with a ValueError by the others.
    """
    if args.law in EXTRA_ANALYSES:
        return _run_extra(con, args)
    budget = _budget(args)
    if budget is not None and args.law not in ("chinchilla", "compute"):
        raise ValueError(f"--budget does not apply to --law {args.law} (it has no compute axis); drop it")
    if budget is not None and not (budget > 0 and budget < float("inf")):
        raise ValueError(f"--budget must be a positive number of FLOPs, got {budget}")
    cons = parse_constraints(args.law, getattr(args, "fix", None), getattr(args, "tie", None))
    points = select_points(con, args.source, args.where)
    selection = {"source": args.source, "where": args.where}
    at = budget if budget is not None else DEFAULT_BUDGET
    budgets = tuple(sorted({*REPORT_BUDGETS, at}))
    fit = fit_pretraining(
        points,
        law=args.law,
        selection=selection,
        n_boot=args.bootstrap,
        seed=args.seed,
        backtest=args.backtest,
        method=args.method,
        fixed=cons["fixed"],
        tie=cons["tie"],
        budgets=budgets,
    )
    r = fit.result
    ident = fit.identifiability
    untrusted = set(ident.get("untrustworthy_intervals", []))
    warnings = fit_warnings(fit)
    payload: dict[str, Any] = {
        "law": r.law,
        "source": args.source,
        "where": args.where,
        "constraints": {"fixed": cons["fixed"], "tie": "alpha=beta" if cons["tie"] else None},
        "params": r.params,
        "n_points": r.n_points,
        "n_runs": points.height,
        "objective": r.objective,
        "loss": r.loss,
        "delta": r.delta,
        "optimizer": r.optimizer,
        "n_starts": r.n_starts,
        "grad_norm": r.grad_norm,
        "converged": r.success,
        "convergence": r.message,
        "derived": r.derived,
        "identifiability": ident,
    }
    if r.bootstrap is not None:
        payload["bootstrap"] = {
            "n": r.bootstrap.n,
            "seed": args.seed,
            "child_seed": r.bootstrap.seed,
            "n_failed": r.bootstrap.n_failed(),
            "intervals_95": r.bootstrap.intervals(0.95),
            "untrustworthy": sorted(k for k in r.bootstrap.replicates if k.split("@")[0] in untrusted),
        }
    if r.law == "chinchilla":
        try:
            table = allocation_table(r, budgets)
        except ValueError as e:  # a degenerate fit (an exponent at 0) has no compute-optimal allocation
            table = None
            warnings = [*warnings, f"no compute-optimal allocation: {e}"]
        if table is not None:
            payload["compute_optimal"] = table.to_dicts()
            row = table.filter(table["compute_flops"] == at)
            bw = budget_warnings(fit, at, row)
            payload["at_budget"] = {**row.to_dicts()[0], "warnings": bw}
            warnings = warnings + [w for w in bw if w not in warnings]
    elif r.law == "compute":
        loss_at = float(predict("compute", r.params, {"C": [at]})[0])
        payload["at_budget"] = {"compute_flops": at, "loss": loss_at, "warnings": budget_warnings(fit, at)}
        warnings = warnings + payload["at_budget"]["warnings"]
    if fit.backtest is not None:
        payload["backtest"] = {k: v for k, v in fit.backtest.items() if k != "rows"}
    payload["warnings"] = warnings
    payload["checklist"] = fit.checklist
    payload["text"] = _text(args, points.height, fit, payload, untrusted)
    options = {
        "law": args.law,
        "method": args.method,
        "bootstrap": args.bootstrap,
        "seed": args.seed,
        "backtest": args.backtest,
    }
    if cons["fixed"] or cons["tie"]:
        options["constraints"] = payload["constraints"]
    if budget is not None:
        options["budget"] = budget
    rec = fit_record("pretraining", r, selection, options, backtest=fit.backtest, checklist=fit.checklist)
    return payload, [rec]


def _text(args, n_runs: int, fit, payload: dict[str, Any], untrusted: set[str]) -> str:
    """The plain-text report: parameters with intervals, convergence, identifiability, allocation, warnings."""
    r, ident = fit.result, fit.identifiability
    lines = [
        f"{r.law} fit to {r.n_points} points of {n_runs} runs ({args.source or 'all sources'}"
        + (f", where {args.where}" if args.where else "")
        + ")"
    ]
    cons = fit.constraints
    if cons["fixed"] or cons["tie"]:
        lines.append(f"  constraints: {describe_constraints(cons['fixed'], cons['tie'])}")
    for k, v in {**r.params, **r.derived}.items():
        lo, hi = r.interval(k)
        ci = f"   95% CI [{lo:.4g}, {hi:.4g}]" if lo == lo else ""
        if ci and k in untrusted:
            ci += " (untrustworthy: not identified)"
        tag = "   (fixed)" if k in cons["fixed"] or (cons["tie"] and k == "beta") else ""
        lines.append(f"  {k:>8} = {v:<12.6g}{ci}{tag}")
    gn = "n/a" if r.grad_norm is None else f"{r.grad_norm:.2e}"
    lines.append(
        f"  objective = {r.objective:.6g} ({r.loss}, delta {r.delta}), grad norm = {gn}, {r.n_starts} starts"
    )
    lines.append(f"  convergence: {r.message or ('converged' if r.success else 'not converged')}")
    spans = ", ".join(f"{k} {v:.2f}" for k, v in ident["spans_decades"].items() if v is not None)
    lines.append(
        f"  identifiability: {ident['verdict'].upper()} ({ident['n_points']} points, {ident['n_free_params']} free "
        f"parameters, {ident['dof']} residual dof; spans in decades: {spans})"
    )
    for k, pr in ident["parameters"].items():
        rng = pr.get("range")
        rtxt = f" profile range [{rng[0]:.4g}, {rng[1]:.4g}]" if rng else ""
        lines.append(f"    {k:>10}: {pr['verdict']}{rtxt}")
    lines.append("    rule: " + ident["rule"])
    if "compute_optimal" in payload:
        lines.append("  compute-optimal allocation:")
        for row in payload["compute_optimal"]:
            lines.append(
                f"    C = {row['compute_flops']:.3g} FLOPs: N_opt = {human(row['N_opt'])}, D_opt = {human(row['D_opt'])}, "
                f"tokens/param = {row['tokens_per_param']:.1f}"
            )
    elif "at_budget" in payload:
        ab = payload["at_budget"]
        lines.append(f"  predicted loss at C = {ab['compute_flops']:.3g} FLOPs: {ab['loss']:.4f} nats/token")
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
    for w in payload["warnings"]:
        lines.append(f"  WARNING: {w}")
    return "\n".join(lines)


def _approaches_text(cmp, source: str, budget: float) -> str:
    """One line per approach (status, a, b, N_opt at the budget, reason) and one per isoFLOP budget."""
    lines = [f"Chinchilla approaches on {source}, N_opt at C = {budget:.3g} FLOPs:"]
    for r in cmp.table.iter_rows(named=True):
        head = f"  {r['approach']}: {r['status'].upper()}"
        if r["status"] != "not applicable":
            head += (
                f"  a = {r['a']:.3f} [{r['a_lo']:.3f}, {r['a_hi']:.3f}]  b = {r['b']:.3f}  N_opt = {r['N_opt']:.3g}"
                f"  ({r['n_points']} points"
                + (f", {r['n_budgets']} usable budgets)" if r["n_budgets"] else ")")
            )
        lines.append(head)
        if r["reason"]:
            lines.append(f"      {r['reason']}")
    if cmp.minima.height:
        lines.append("  isoFLOP budgets (cells in parabola / at budget, excluded, status):")
        for m in cmp.minima.iter_rows(named=True):
            lines.append(
                f"    C = {m['C']:.3g}: {m['n_points']}/{m['n_cells']} cells"
                + (f", excluded {m['excluded']}" if m["excluded"] else "")
                + f", {m['status']}"
            )
        for c in cmp.excluded_cells.iter_rows(named=True):
            lines.append(f"    excluded {c['run_id']} (C = {c['C']:.3g}, N = {c['N']:.3g}): {c['reason']}")
        lines.append("  rules: " + cmp.notes.get("approach2_rules", ""))
    return "\n".join(lines)


def _approach_checklist(cmp, name: str) -> dict[str, Any]:
    """Reliability verdict of one approach for its stored record: status, reason, usable budgets."""
    prefix = {"approach1": "1:", "approach2": "2:", "approach3": "3:", "approach3_lbfgs": "3:"}[name]
    rows = [r for r in cmp.table.to_dicts() if r["approach"].startswith(prefix)]
    if name == "approach3_lbfgs":
        rows = [r for r in rows if "lbfgs" in r["approach"]] or rows
    row = rows[0] if rows else {}
    out = {"status": row.get("status"), "reason": row.get("reason"), "n_budgets": row.get("n_budgets")}
    if name == "approach2":
        out["budget_rules"] = cmp.notes.get("approach2_rules")
    return out


def _frame_records(df) -> list[dict]:
    return df.to_dicts() if df is not None else []


def _run_extra(con, args) -> tuple[dict[str, Any], list[dict]]:
    """``--law overtraining | approaches | datamix``."""
    if not args.source:
        raise ValueError(f"--law {args.law} needs --source")
    if getattr(args, "fix", None) or getattr(args, "tie", None):
        raise ValueError(f"--fix/--tie apply to --law chinchilla and compute, not {args.law}")
    if args.law == "overtraining" and _budget(args) is not None:
        raise ValueError(
            "--budget does not apply to --law overtraining (it fits L(C, M) over the runs); drop it"
        )
    budget = _budget(args) if _budget(args) is not None else DEFAULT_BUDGET
    n_boot = args.bootstrap
    if args.law == "overtraining":
        from app.services.laws_extra import fit_overtraining_and_error

        fit = fit_overtraining_and_error(
            con, args.source, args.where, err_metric=args.err_metric, n_boot=n_boot, seed=args.seed
        )
        from app.services.laws_extra import identifiability_text

        lident = fit.loss_fit.extra["identifiability"]
        eident = None if fit.error_fit is None else fit.error_fit.extra["identifiability"]
        payload = {
            "law": "overtraining",
            "source": args.source,
            "where": args.where,
            "params": fit.loss_fit.params,
            "n_points": fit.loss_fit.n_points,
            "fit_runs": fit.loss_fit_runs,
            "intervals_95": fit.loss_fit.bootstrap.intervals() if fit.loss_fit.bootstrap else {},
            "derived": fit.loss_fit.derived,
            "identifiability": lident,
            "error_law": None
            if fit.error_fit is None
            else {
                "params": fit.error_fit.params,
                "n_points": fit.error_fit.n_points,
                "fit_runs": fit.error_fit_runs,
                "intervals_95": fit.error_fit.bootstrap.intervals() if fit.error_fit.bootstrap else {},
                "identifiability": eident,
            },
            "backtest": _frame_records(fit.backtest),
            "warnings": list(lident["warnings"]) + ([] if eident is None else list(eident["warnings"])),
        }
        lines = []
        for title, r, ident in (
            ("over-training law L(C, M)", fit.loss_fit, lident),
            ("loss-to-error map Err(L)", fit.error_fit, eident),
        ):
            if r is None:
                continue
            lines.append(f"{title} fit to {r.n_points} runs:")
            ivs = r.bootstrap.intervals() if r.bootstrap else {}
            for k, v in r.params.items():
                ci = f"   95% CI [{ivs[k][0]:.4g}, {ivs[k][1]:.4g}]" if k in ivs else ""
                if ci and k in ident["untrustworthy_intervals"]:
                    ci += " (untrustworthy: not identified)"
                lines.append(f"  {k:>6} = {v:<12.6g}{ci}")
            lines.extend(identifiability_text("law" if r is fit.loss_fit else "error map", ident))
        payload["text"] = "\n".join(lines)
        return payload, list(fit.records)
    if args.law == "approaches":
        from app.services.approaches import compare_approaches

        cmp = compare_approaches(
            con, args.source, args.where, budget=budget, n_boot=n_boot or 20, seed=args.seed
        )
        payload = {
            "law": "approaches",
            "source": args.source,
            "where": args.where,
            "budget_flops": budget,
            "approaches": _frame_records(cmp.table),
            "isoflop_budgets": _frame_records(cmp.minima) if cmp.minima.height else [],
            "excluded_cells": _frame_records(cmp.excluded_cells) if cmp.excluded_cells.height else [],
            "notes": cmp.notes,
        }
        payload["text"] = _approaches_text(cmp, args.source, budget)
        recs = [
            fit_record(
                "pretraining",
                r,
                {"source": args.source, "where": args.where, "approach": name},
                {"law": "approaches", "bootstrap": n_boot, "budget": budget},
                checklist=_approach_checklist(cmp, name),
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
        budget=budget,
        reference=args.reference,
        n_boot=n_boot or 50,
        seed=args.seed,
    )
    payload = {
        "law": "datamix",
        "source": args.source,
        "where": args.where,
        "budget_flops": budget,
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
