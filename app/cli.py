"""The ``scaling`` command: migrate, ingest, fit, demo, serve, sql.

Argument parsing is the standard library's argparse; progress bars are tqdm's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from app.settings import REPO_ROOT, SAMPLES_DIR, Settings


def _db_arg(p: argparse.ArgumentParser, settings: Settings) -> None:
    p.add_argument("--db", default=settings.db, help=f"DuckDB file (default: $SCALING_DB or {settings.db})")


def build_parser(settings: Settings | None = None) -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and for the README check)."""
    settings = settings or Settings.from_env()
    parser = argparse.ArgumentParser(
        prog="scaling", description="Scaling-law dashboard: ingest run logs, fit, serve."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("migrate", help="create or upgrade the database schema (idempotent)")
    _db_arg(p, settings)

    p = sub.add_parser("ingest", help="ingest run logs and tables (files or folders) into the database")
    _db_arg(p, settings)
    p.add_argument("paths", nargs="+", help="files or folders to ingest (folders are walked recursively)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no per-file lines")

    p = sub.add_parser("fit", help="fit a scaling law: pretraining, rl or test-time")
    axes = p.add_subparsers(dest="axis", required=True, metavar="AXIS")
    from app.services.pretraining import LAWS
    from app.services.pretraining_cli import EXTRA_ANALYSES

    fp = axes.add_parser("pretraining", help="fit a pretraining law to final losses")
    _db_arg(fp, settings)
    fp.add_argument(
        "--source", help='source (sweep/study) to fit; see `scaling sql "select * from v_pretrain_points"`'
    )
    fp.add_argument(
        "--where", help="extra SQL filter over v_pretrain_points columns, e.g. \"corpus = 'rpj'\""
    )
    fp.add_argument(
        "--law",
        choices=[*LAWS, *EXTRA_ANALYSES],
        default="chinchilla",
        help="law to fit (default chinchilla); 'overtraining' = Gadre L(C, M) plus the loss-to-error map, "
        "'approaches' = Chinchilla approaches 1-3 side by side, 'datamix' = one compute law per corpus and the "
        "effective compute multipliers",
    )
    fp.add_argument(
        "--budget", type=float, default=1e23, help="compute budget in FLOPs for N_opt and multipliers"
    )
    fp.add_argument("--err-metric", default="err_avg_17", help="overtraining: the downstream error metric")
    fp.add_argument(
        "--reference", help="datamix: the corpus the others are compared with (default the first)"
    )
    fp.add_argument(
        "--method",
        choices=["vpnls", "lbfgs"],
        default="vpnls",
        help="chinchilla solver: variable projection (fast, default) or the 4,500-start L-BFGS reference",
    )
    fp.add_argument(
        "--bootstrap", type=int, default=0, metavar="N", help="bootstrap replicates over runs (default 0)"
    )
    fp.add_argument("--seed", type=int, default=settings.seed, help="seed of the bootstrap generator")
    fp.add_argument(
        "--backtest", action="store_true", help="fit below a compute cutoff and predict the largest runs"
    )
    fp.add_argument("--json", action="store_true", help="print the result as JSON")
    fp.add_argument("--no-save", action="store_true", help="do not record the fit in the fits table")

    fr = axes.add_parser("rl", help="fit the RL compute-performance sigmoid (ScaleRL) per run")
    _db_arg(fr, settings)
    fr.add_argument("--run", action="append", help="run id (repeatable); default all RL runs")
    fr.add_argument("--where", help="extra SQL filter over v_rl_curves columns")
    fr.add_argument(
        "--metric",
        required=True,
        help="metric to fit, e.g. val/test_score/openai/gsm8k (verl logs) or val/gsm8k_acc (JSON Lines)",
    )
    fr.add_argument(
        "--x",
        choices=["gpu_hours", "flops", "tokens", "step"],
        default="gpu_hours",
        help="compute axis: GPU-hours, FLOPs or tokens seen (flops_seen / tokens_seen), or optimizer steps "
        "(labelled by the runs' algorithm); a run that did not log it is listed with the reason (default gpu_hours)",
    )
    fr.add_argument(
        "--include-flagged",
        action="store_true",
        help="keep runs whose ceiling A sits at its bound or whose C_mid lies outside the observed compute in the "
        "size trend (left out by default)",
    )
    fr.add_argument(
        "--transient-cut",
        type=float,
        default=None,
        help="fraction 0-1 of each run's largest compute below which points are dropped as the early transient (default 0.1)",
    )
    fr.add_argument("--bootstrap", type=int, default=0, metavar="N", help="bootstrap replicates (default 0)")
    fr.add_argument("--seed", type=int, default=settings.seed, help="seed of the bootstrap generator")
    fr.add_argument("--json", action="store_true", help="print the result as JSON")
    fr.add_argument("--no-save", action="store_true", help="do not record the fits in the fits table")

    ft = axes.add_parser(
        "test-time",
        help="test-time analyses (--what): pass@k, coverage law, majority@k, thinking tokens, frontier, adaptive",
    )
    _db_arg(ft, settings)
    ft.add_argument(
        "--where",
        help="extra SQL filter, e.g. \"model = 'Pythia 12B'\"; over v_eval_by_problem (passk, coverage, adaptive) "
        "or eval_samples columns (majority, thinking, frontier)",
    )
    ft.add_argument(
        "--what",
        choices=["passk", "coverage", "majority", "thinking", "frontier", "adaptive"],
        default="passk",
        help="analysis: passk (pass@k and coverage fits, default), coverage (coverage law, also on eval summary "
        "tables), majority (majority@k with a tie policy), thinking (stopping point from the fitted accuracy vs "
        "thinking-token curve), frontier (cost-accuracy Pareto frontier), adaptive (per-difficulty allocation)",
    )
    ft.add_argument(
        "--k",
        default="1,10,100",
        help="comma-separated k values for pass@k and majority@k (default 1,10,100)",
    )
    ft.add_argument(
        "--ties",
        choices=["random", "wrong", "expected"],
        default="random",
        help="majority: a tie for the most votes is broken at random with --seed, counts as wrong, or scores "
        "the share of tied answers that are correct (default random)",
    )
    ft.add_argument(
        "--unparsed",
        choices=["abstain", "wrong_vote"],
        default="abstain",
        help="majority: an answer that failed to parse casts no vote, or votes for one shared wrong answer; "
        "either way its problem stays in the denominator (default abstain)",
    )
    ft.add_argument(
        "--subsets", type=int, default=100, help="majority: random size-k subsets per problem (default 100)"
    )
    ft.add_argument(
        "--threshold",
        type=float,
        default=0.01,
        help="thinking: smallest worthwhile gain of the fitted curve (accuracy per 1k tokens, or per $ with "
        "--gain-per usd; default 0.01)",
    )
    ft.add_argument(
        "--gain-per",
        choices=["tokens", "usd"],
        default="tokens",
        help="thinking: threshold unit (default tokens)",
    )
    ft.add_argument(
        "--price",
        action="append",
        metavar="MODEL=P_IN,P_OUT",
        help="$ per 1M input and output tokens for a model without a logged cost_usd (repeatable; others use a "
        "placeholder, and the output says which)",
    )
    ft.add_argument(
        "--unit",
        choices=["tokens", "usd", "latency_s"],
        default=None,
        help="frontier: cost unit where the benchmark supports it (default: the first each benchmark supports)",
    )
    ft.add_argument("--benchmark", default=None, help="frontier: one benchmark (default all)")
    ft.add_argument(
        "--target",
        type=float,
        default=None,
        help="frontier: accuracy to reach at the lowest cost; adaptive: coverage to reach (default 0.5)",
    )
    ft.add_argument(
        "--split-half", action="store_true", help="adaptive: estimate difficulty on half the samples"
    )
    ft.add_argument(
        "--bootstrap",
        type=int,
        default=None,
        metavar="N",
        help="bootstrap replicates over problems for the coverage fit (default $SCALING_BOOTSTRAP)",
    )
    ft.add_argument(
        "--seed", type=int, default=None, help="seed of the bootstrap generator (default $SCALING_SEED)"
    )
    ft.add_argument("--json", action="store_true", help="print the result as JSON")
    ft.add_argument("--no-save", action="store_true", help="do not record the fits in the fits table")

    p = sub.add_parser(
        "size", help="inference-aware model size (Sardana et al.): N and D minimising training + inference"
    )
    _db_arg(p, settings)
    p.add_argument(
        "--law",
        default="preset:Chinchilla (unrounded)",
        help="'preset:Chinchilla (unrounded)', 'preset:Chinchilla (rounded)', 'preset:Epoch refit', "
        "'stored:<fit_id>' (a stored chinchilla fit) or 'fit:<source>' (fit now)",
    )
    p.add_argument(
        "--target-loss", type=float, help="target loss in nats/token (default: that of --reference-params)"
    )
    p.add_argument(
        "--reference-params",
        type=float,
        default=13e9,
        help="N of the Chinchilla-optimal model whose loss is the target (default 13e9)",
    )
    p.add_argument(
        "--inference-tokens", type=float, default=2e12, help="lifetime inference tokens (default 2e12)"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = sub.add_parser("demo", help="ingest the bundled real sample data, fit, and serve the app")
    p.add_argument("--db", default="var/demo.duckdb", help="DuckDB file to build (default var/demo.duckdb)")
    p.add_argument("--no-serve", action="store_true", help="build and fit only; do not start the app")
    p.add_argument(
        "--bootstrap",
        type=int,
        default=100,
        metavar="N",
        help="bootstrap replicates kept with each default fit (default 100)",
    )
    p.add_argument("--port", type=int, default=settings.port, help="port to serve on (default 8501)")

    p = sub.add_parser("serve", help="serve the Streamlit app on localhost")
    _db_arg(p, settings)
    p.add_argument("--port", type=int, default=settings.port, help="port (default 8501)")

    from app.services.simulator_cli import register as register_simulate

    register_simulate(sub, settings)

    p = sub.add_parser("sql", help="run one read-only SQL query (time-limited, row-capped)")
    _db_arg(p, settings)
    p.add_argument("query", help='the SQL query, e.g. "select * from v_final_loss limit 5"')
    p.add_argument(
        "--timeout", type=float, default=settings.sql_timeout_s, help="seconds before interrupting"
    )
    p.add_argument("--max-rows", type=int, default=settings.sql_max_rows, help="rows returned at most")
    p.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    return parser


def to_json(payload) -> str:
    """JSON text of ``payload`` with NaN and infinities written as null (strict JSON, as ``jq`` expects)."""
    import math

    def clean(x):
        if isinstance(x, dict):
            return {str(k): clean(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [clean(v) for v in x]
        if hasattr(x, "item") and not isinstance(x, str | bytes):
            try:
                x = x.item()
            except (ValueError, AttributeError):
                pass
        if isinstance(x, float) and not math.isfinite(x):
            return None
        return x

    return json.dumps(clean(payload), indent=2, default=str, allow_nan=False)


def cmd_migrate(args) -> int:
    from data.connect import writable_copy
    from data.migrate import migrate

    with writable_copy(args.db) as con:
        new = migrate(con)
    print(f"{args.db}: applied {len(new)} migration(s)" + (": " + ", ".join(new) if new else " (up to date)"))
    return 0


def cmd_ingest(args) -> int:
    from tqdm import tqdm

    from data.ingest import ingest_paths

    try:
        report = ingest_paths(
            args.db,
            args.paths,
            progress=None
            if args.quiet
            else (lambda files: tqdm(files, desc="ingest", unit="file", leave=False)),
        )
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not args.quiet:
        for f in report.files:
            if f.status == "failed":
                print(f"FAILED   {f.path}: {f.message}", file=sys.stderr)
            elif f.status == "loaded" and f.n_rejects:
                print(
                    f"loaded   {f.path}: {f.n_runs} runs, {f.n_rows} rows, {f.n_rejects} rejected (see v_rejects)"
                )
    print(
        f"{args.db}: {report.count('loaded')} loaded, {report.count('unchanged')} unchanged, "
        f"{report.count('failed')} failed, {report.count('skipped')} skipped; {report.n_rejects} rejected records"
    )
    return 1 if report.count("failed") else 0


def _save(db: str, records: list[dict]) -> list[str]:
    from data.connect import writable_copy
    from data.fits import save_fit
    from data.migrate import migrate

    with writable_copy(db) as con:
        migrate(con)
        return [save_fit(con, r) for r in records]


def cmd_fit(args) -> int:
    import duckdb

    from data.connect import open_ro

    if not Path(args.db).exists():
        print(f"error: database {args.db} does not exist; run `scaling ingest` first", file=sys.stderr)
        return 2
    try:
        if args.axis == "pretraining":
            from app.services.pretraining_cli import run as run_axis
        elif args.axis == "rl":
            from app.services.rl_cli import run as run_axis
        else:
            from app.services.test_time_cli import run as run_axis
        con = open_ro(args.db)
        try:
            payload, records = run_axis(con, args)
        finally:
            con.close()
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except duckdb.Error as e:  # a bad --where filter, or a database that is not ours
        print(f"error: query failed ({type(e).__name__}): {e}", file=sys.stderr)
        return 2
    if records and not args.no_save:
        ids = _save(args.db, records)
        payload["fit_ids"] = ids
    if args.json:
        payload.pop("text", None)
        print(to_json(payload))
    else:
        print(payload.get("text") or to_json(payload))
    return 0


def cmd_size(args) -> int:
    import duckdb

    from app.services.sizing import size_model, summary_rows
    from data.connect import open_ro

    try:
        con = open_ro(args.db) if Path(args.db).exists() else duckdb.connect(":memory:")
        try:
            res = size_model(
                con,
                args.law,
                inference_tokens=args.inference_tokens,
                target_loss=args.target_loss,
                reference_params=None if args.target_loss else args.reference_params,
            )
        finally:
            con.close()
    except (ValueError, duckdb.Error) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    payload = {
        "law": res.law_label,
        "params": res.params,
        "target_loss": res.target_loss,
        "inference_tokens": res.inference_tokens,
        "optimum": res.optimum,
        "intervals_95": {k: list(v) for k, v in res.intervals.items()},
        "n_replicates": res.n_replicates,
    }
    if args.json:
        print(to_json(payload))
    else:
        for row in summary_rows(res):
            print("  ".join(f"{k}={v}" for k, v in row.items()))
    return 0


def cmd_demo(args) -> int:
    from app.services.demo import build_demo

    build_demo(args.db, SAMPLES_DIR, echo=print, n_boot=args.bootstrap)
    if args.no_serve:
        return 0
    return serve(args.db, args.port)


def serve(db: str, port: int) -> int:
    """Run ``streamlit run app/streamlit_app.py`` with ``SCALING_DB`` set; returns its exit code."""
    env = dict(os.environ, SCALING_DB=str(Path(db).resolve()))
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO_ROOT / "app" / "streamlit_app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "localhost",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    print(f"serving {db} at http://localhost:{port}  (Ctrl-C to stop)")
    try:
        return subprocess.call(cmd, env=env, cwd=REPO_ROOT)
    except KeyboardInterrupt:
        return 0


def cmd_sql(args) -> int:
    from data.sql_console import QueryTimeout, run_sql

    try:
        res = run_sql(args.db, args.query, timeout_s=args.timeout, max_rows=args.max_rows)
    except (QueryTimeout, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # duckdb errors: syntax, read-only, missing table
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    if args.csv:
        print(res.frame.write_csv(), end="")
    else:
        import polars as pl

        with pl.Config(tbl_rows=50, tbl_cols=20, fmt_str_lengths=60):
            print(res.frame)
    if res.truncated:
        print(f"(truncated at {args.max_rows} rows)", file=sys.stderr)
    return 0


def cmd_simulate(args) -> int:
    from app.services.simulator_cli import run

    return run(args)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``scaling`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    handler = {
        "migrate": cmd_migrate,
        "ingest": cmd_ingest,
        "fit": cmd_fit,
        "demo": cmd_demo,
        "serve": lambda a: serve(a.db, a.port),
        "sql": cmd_sql,
        "size": cmd_size,
        "simulate": cmd_simulate,
    }[args.command]
    return handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
