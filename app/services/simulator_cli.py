"""``scaling simulate``: the budget simulator from the command line (same numbers as the Budget page)."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path
from typing import Any

#: ``analysis.simulator.presets.DEFAULT_LAW`` / ``DEFAULT_RL`` as literals: importing the simulator would load numpy
#: and scipy just to build ``scaling --help`` (tests/app/test_cli_workflow.py checks they stay equal).
DEFAULT_LAW = "Epoch refit (Besiroglu 2024)"
DEFAULT_RL = "ScaleRL 8B"

TEST_TIME_CHOICES = ("pass@k", "majority", "none")
AXIS_NAMES = ("pretraining", "rl", "test_time")


def register(sub, settings) -> None:
    """Add the ``simulate`` subcommand to the CLI's subparsers."""
    p = sub.add_parser(
        "simulate",
        help="budget simulator: best split of a budget between pretraining, RL and test-time compute",
    )
    # argparse reads "-1e24" or "-1,1,1" as an option (its negative-number pattern is plain decimals), so
    # "--budget-flops -1e24" failed with "expected one argument"; accept them so the checks can name the problem
    if hasattr(p, "_negative_number_matcher"):
        p._negative_number_matcher = re.compile(r"^-(\d|\.\d|nan$|inf$)")  # -1e24, -1,1,1, -.5, -nan
    p.add_argument("--db", default=settings.db, help=f"DuckDB file (default: $SCALING_DB or {settings.db})")
    p.add_argument(
        "--budget-flops", type=float, help="total budget in FLOPs (pretraining + RL + lifetime serving)"
    )
    p.add_argument(
        "--budget-usd",
        type=float,
        help="total budget in US dollars (overrides --budget-flops; priced per phase)",
    )
    p.add_argument(
        "--law",
        default=f"preset:{DEFAULT_LAW}",
        help="pretraining law: preset:NAME, stored:FIT_ID or fit:SOURCE (default the Besiroglu 2024 refit)",
    )
    p.add_argument("--queries", type=float, default=0.0, help="lifetime queries Q (default 0: no demand)")
    p.add_argument(
        "--tokens-per-query",
        type=float,
        default=285.0,
        help="prompt + generated tokens of one sample (default 285, LMSys averages 70 + 215)",
    )
    p.add_argument(
        "--prompt-tokens", type=float, default=70.0, help="prompt tokens per query, processed once"
    )
    p.add_argument(
        "--rl",
        default=f"preset:{DEFAULT_RL}",
        help="RL link: preset:NAME (ScaleRL Table 1), stored:FIT_ID, user:A,B,C_mid or none",
    )
    p.add_argument(
        "--split", help="shares p,r,t of pretraining, RL and test time to simulate (fractions summing to 1)"
    )
    p.add_argument("--target", type=float, help="target metric: also find the cheapest budget reaching it")
    p.add_argument(
        "--test-time",
        choices=TEST_TIME_CHOICES,
        default="pass@k",
        help="selection: pass@k with an oracle verifier, majority voting, or none (one sample)",
    )
    p.add_argument(
        "--accuracy-source", default="gadre_overtraining", help="source the accuracy map is fitted on"
    )
    p.add_argument(
        "--accuracy-metric",
        default="acc_lambada_openai",
        help="summary metric mapped from loss (err* = error)",
    )
    p.add_argument("--difficulty", default="counts", help="counts (fit per-problem counts) or tail:VALUE")
    p.add_argument(
        "--assume",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override an assumption, e.g. rl_tt_kappa=0 (repeatable)",
    )
    p.add_argument(
        "--cost",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a hardware/price setting: peak_flops, price_per_gpu_hour, infer_peak_flops, "
        "infer_price_per_gpu_hour, mfu_train, mfu_prefill, mfu_decode, mfu_rl, rl_peak_flops, rl_price_per_gpu_hour "
        "(repeatable)",
    )
    p.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME:FROM>TO:PCT[:xQ]",
        help="compare with the logged baseline, e.g. 'more RL:pretraining>rl:20' or 'busy:pretraining>rl:0:x2'",
    )
    p.add_argument(
        "--bootstrap",
        type=int,
        default=settings.bootstrap,
        help="replicates of the band (default $SCALING_BOOTSTRAP)",
    )
    p.add_argument("--seed", type=int, default=settings.seed, help="seed pairing the replicates")
    p.add_argument(
        "--extrapolate",
        action="store_true",
        help="recommend the unconstrained optimum even where it leaves the data (default: recommend only decisions "
        "inside what the fits saw; the unconstrained one is printed beside it, flagged)",
    )
    p.add_argument(
        "--save", action="store_true", help="save the results in the scenarios table (v_scenarios)"
    )
    p.add_argument(
        "--csv", action="store_true", help="print the points (and scenarios) as CSV instead of text"
    )
    p.add_argument("--json", action="store_true", help="print the JSON payload")


def _split(text: str | None) -> tuple[float, float, float] | None:
    if not text:
        return None
    try:
        vals = tuple(float(x) for x in text.split(","))
    except ValueError as e:
        raise ValueError(f"--split needs three numbers p,r,t, got {text!r}") from e
    if len(vals) != 3:
        raise ValueError(f"--split needs three numbers p,r,t, got {text!r}")
    if not all(math.isfinite(v) and v >= 0 for v in vals):
        raise ValueError(f"--split shares must be finite numbers >= 0, got {text!r}")
    if abs(sum(vals) - 1.0) > 1e-3:
        raise ValueError(
            f"--split shares must sum to 1 (fractions of the budget), got {text!r} (sum {sum(vals):.4g})"
        )
    return vals  # type: ignore[return-value]


def _assumptions(items: list[str]) -> tuple:
    out = []
    for it in items:
        name, sep, val = it.partition("=")
        if not sep:
            raise ValueError(f"expected NAME=VALUE, got {it!r}")
        try:
            out.append((name.strip(), float(val)))
        except ValueError as e:
            raise ValueError(f"{name}: {val!r} is not a number") from e
    return tuple(out)


def _costs(items: list[str]) -> tuple:
    """``--cost NAME=VALUE`` pairs, checked against analysis.simulator.Costs (ValueError on a bad name/value)."""
    from dataclasses import fields

    from analysis.simulator import Costs

    names = {f.name for f in fields(Costs)}
    out = _assumptions(items)
    for name, _ in out:
        if name not in names:
            raise ValueError(f"--cost: unknown setting {name!r}; choose from {', '.join(sorted(names))}")
    Costs(**dict(out))  # validates ranges (MFU in (0, 1], positive prices)
    return out


def parse_scenario(text: str):
    """``NAME:FROM>TO:PCT[:xQ]`` -> app.services.simulator.Scenario (raises ValueError on bad text)."""
    from app.services.simulator import Scenario

    parts = text.split(":")
    if len(parts) not in (3, 4) or ">" not in parts[1]:
        raise ValueError(f"--scenario needs NAME:FROM>TO:PCT[:xQ], got {text!r}")
    src, dst = (s.strip() for s in parts[1].split(">", 1))
    if src not in AXIS_NAMES or dst not in AXIS_NAMES:
        raise ValueError(f"--scenario axes must be among {', '.join(AXIS_NAMES)}, got {parts[1]!r}")
    try:
        pct = float(parts[2])
        qf = float(parts[3].lstrip("x")) if len(parts) == 4 else 1.0
    except ValueError as e:
        raise ValueError(f"--scenario {text!r}: PCT and xQ must be numbers") from e
    if not 0 <= pct <= 100:
        raise ValueError(f"--scenario {text!r}: PCT must be a percentage in [0, 100], got {parts[2]!r}")
    if not (math.isfinite(qf) and qf >= 0):
        raise ValueError(f"--scenario {text!r}: the queries factor xQ must be a number >= 0")
    return Scenario(parts[0], src, dst, pct, qf)


def build(args) -> tuple[Any, tuple, tuple | None]:
    """(SimConfig, budget tuple, split) from parsed arguments. Raises ValueError on bad input."""
    from app.services.simulator import SimConfig

    if args.budget_usd is None and args.budget_flops is None:
        raise ValueError("give --budget-flops C or --budget-usd X")
    if args.tokens_per_query <= args.prompt_tokens:
        raise ValueError("--tokens-per-query must exceed --prompt-tokens (it includes the generated tokens)")
    unit, total = ("usd", args.budget_usd) if args.budget_usd is not None else ("flops", args.budget_flops)
    cfg = SimConfig(
        law=args.law,
        accuracy_source=args.accuracy_source,
        accuracy_metric=args.accuracy_metric,
        difficulty=args.difficulty,
        rl=args.rl,
        test_time=args.test_time,
        n_replicates=int(args.bootstrap),
        seed=int(args.seed),
        assumptions=_assumptions(args.assume),
        costs=_costs(args.cost),
        extrapolate=bool(args.extrapolate),
    )
    budget = (
        float(total),
        unit,
        float(args.queries),
        float(args.prompt_tokens),
        float(args.tokens_per_query - args.prompt_tokens),
    )
    return cfg, budget, _split(args.split)


def _text(payload: dict[str, Any]) -> str:
    o = payload["optimum"]
    b = payload["budget"]
    lines = [
        f"budget {b['total']:.4g} {b['unit']}, {b['queries']:.3g} queries; metric: {payload['metric_name']}",
        "optimum: "
        + ", ".join(f"{a} {o['shares'][a]:.1%}" for a in AXIS_NAMES)
        + f"; N {o['N']:.3g}, D {o['D']:.3g} ({o['tokens_per_param']:.3g} tokens/param), "
        f"{o['samples_per_query']:.3g} samples/query",
        f"metric {o['metric']['value']:.4f} [{o['metric']['lo']:.4f}, {o['metric']['hi']:.4f}]",
    ]
    if "split" in payload:
        s = payload["split"]
        shares = ", ".join(f"{s['shares'][a]:.1%}" for a in AXIS_NAMES)
        lines.append(
            f"split {shares}: metric {s['metric']['value']:.4f} "
            f"[{s['metric']['lo']:.4f}, {s['metric']['hi']:.4f}], P(beats optimum) {s['p_beats_optimum']:.2f}"
        )
    if "target" in payload:
        t = payload["target"]
        lines.append(f"cheapest budget reaching {t['target']:g}: {t['budget_total']:.4g} {b['unit']}")
    mr = payload["marginal_return"]
    lines.append(
        f"marginal return d(metric)/d(log budget) at the {payload['marginal_return_at']}: "
        + ", ".join(
            f"{a} {mr[a]['value']:.3g}" + (" (leaves the data)" if mr[a].get("extrapolated") else "")
            for a in AXIS_NAMES
        )
    )
    out = [
        k
        for name, where in payload["extrapolation"].items()
        if name != "optimum_extrapolated"
        for k, f in where["links"].items()
        if f["outside"]
    ]
    if out:
        lines.append("extrapolated (outside the fitted range): " + ", ".join(sorted(set(out))))
    if "optimum_extrapolated" in payload:
        x = payload["optimum_extrapolated"]
        bad = [
            k for k, f in payload["extrapolation"]["optimum_extrapolated"]["links"].items() if f["outside"]
        ]
        lines.append(
            "outside the data (not recommended; --extrapolate to recommend it): "
            + ", ".join(f"{a} {x['shares'][a]:.1%}" for a in AXIS_NAMES)
            + f"; N {x['N']:.3g}, {x['samples_per_query']:.3g} samples/query; metric {x['metric']['value']:.4f} "
            f"[{x['metric']['lo']:.4f}, {x['metric']['hi']:.4f}]; outside: {', '.join(sorted(bad))}"
        )
    for r in payload.get("scenarios", {}).get("table", []):
        if r["metric"] is None:
            lines.append(f"scenario {r['scenario']}: not simulated ({r['note']})")
            continue
        pb = "" if r["p_beats_baseline"] is None else f", P(beats baseline) {r['p_beats_baseline']:.2f}"
        lines.append(
            f"scenario {r['scenario']}: metric {r['metric']:.4f} [{r['metric_lo']:.4f}, "
            f"{r['metric_hi']:.4f}]{pb}"
        )
    return "\n".join(lines)


def run(args) -> int:
    """Run ``scaling simulate``; prints JSON (``--json``), CSV (``--csv``) or a short text. Exit 0, or 2 on error."""
    import duckdb

    from app.cli import to_json
    from app.services.simulator import (
        compare_scenarios,
        comparison_rows,
        export_csv,
        save_rows,
        scenario_rows,
        simulate,
    )
    from data.connect import open_ro

    try:
        cfg, budget, split = build(args)
        scenarios = tuple(parse_scenario(s) for s in args.scenario)
        con = open_ro(args.db) if Path(args.db).exists() else None
        if con is None:
            raise ValueError(
                f"database {args.db} does not exist; run `scaling demo --no-serve` or `scaling ingest`"
            )
        try:
            payload = simulate(con, cfg, budget, split=split, target=args.target)
            comp = compare_scenarios(con, cfg, budget, scenarios) if scenarios else None
        finally:
            con.close()
    except (ValueError, duckdb.Error) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rows = scenario_rows(payload, cfg)
    if comp is not None:
        payload["scenarios"] = {"baseline": comp["baseline"], "table": comp["table"]}
        rows += comparison_rows(comp, cfg, budget)
    if args.save:
        payload["scenario_ids"] = save_rows(args.db, rows)
    if args.json:
        print(to_json(payload))
    elif args.csv:
        print(export_csv(rows), end="")
    else:
        print(_text(payload))
    return 0


__all__ = ["build", "parse_scenario", "register", "run"]
