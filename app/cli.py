"""The ``scaling`` command: migrate, ingest, fit, demo, serve, sql, size, runs, label, delete, export.

Argument parsing is the standard library's argparse; progress bars are tqdm's. Building the parser imports only
the standard library and ``app.settings`` (polars, scipy, duckdb and streamlit are imported by the command that
needs them), so ``scaling --help`` and argument errors answer at once. Every ``--bootstrap`` defaults to
``SCALING_BOOTSTRAP`` (200), the number of replicates the app draws.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from app import cli_store
from app.settings import REPO_ROOT, SAMPLES_DIR, Settings


def _db_arg(p: argparse.ArgumentParser, settings: Settings) -> None:
    p.add_argument("--db", default=settings.db, help=f"DuckDB file (default: $SCALING_DB or {settings.db})")


#: ``app.services.pretraining.LAWS`` and ``app.services.pretraining_cli.EXTRA_ANALYSES`` (importing them would pull
#: in scipy and polars for ``--help``; tests/app/test_cli_workflow.py checks they stay equal).
PRETRAINING_LAWS = ("chinchilla", "compute", "kaplan_N", "kaplan_D")
PRETRAINING_EXTRA = ("overtraining", "approaches", "datamix")


def _bootstrap_arg(p: argparse.ArgumentParser, settings: Settings, what: str) -> None:
    p.add_argument(
        "--bootstrap",
        type=int,
        default=settings.bootstrap,
        metavar="N",
        help=f"bootstrap replicates {what} (default $SCALING_BOOTSTRAP or {settings.bootstrap}; 0 = none)",
    )


def _lock_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lock-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="give up (exit 3) when another writer holds the database lock longer than this (default: wait)",
    )


def _serve_args(p: argparse.ArgumentParser, settings: Settings) -> None:
    p.add_argument(
        "--host",
        default=settings.host,
        help=f"address to bind: localhost (this machine only) or 0.0.0.0 to share on the network "
        f"(default: $SCALING_HOST or {settings.host})",
    )
    p.add_argument(
        "--port", type=int, default=settings.port, help=f"port (default: $SCALING_PORT or {settings.port})"
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        default=None,
        metavar="NAME",
        help="host name browsers use to reach the app (repeatable; Streamlit's server.allowedHosts against DNS "
        "rebinding; default: $SCALING_ALLOWED_HOSTS, else localhost names plus this machine's names when --host "
        "is not local; '*' = any)",
    )


def build_parser(settings: Settings | None = None) -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and for the README check)."""
    settings = settings or Settings.from_env()
    parser = argparse.ArgumentParser(
        prog="scaling", description="Scaling-law dashboard: ingest run logs, fit, serve."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("migrate", help="create or upgrade the database schema (idempotent)")
    _db_arg(p, settings)
    _lock_arg(p)

    p = sub.add_parser("ingest", help="ingest run logs and tables (files or folders) into the database")
    _db_arg(p, settings)
    p.add_argument("paths", nargs="+", help="files or folders to ingest (folders are walked recursively)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no per-file lines")
    p.add_argument(
        "--json", action="store_true", help="print the summary (every file, status, counts) as JSON"
    )
    p.add_argument(
        "--include-hidden", action="store_true", help="also walk hidden folders and read hidden files"
    )
    _lock_arg(p)
    p.add_argument("--source", help="study name stored in every run's source (default: side-car, tool, folder)")
    p.add_argument(
        "--watch", action="store_true", help="keep polling the paths and ingest new and grown files until Ctrl-C"
    )
    p.add_argument("--interval", type=float, default=5.0, help="seconds between polls with --watch (default 5)")

    p = sub.add_parser("fit", help="fit a scaling law: pretraining, rl or test-time")
    axes = p.add_subparsers(dest="axis", required=True, metavar="AXIS")
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
        choices=[*PRETRAINING_LAWS, *PRETRAINING_EXTRA],
        default="chinchilla",
        help="law to fit (default chinchilla); 'overtraining' = Gadre L(C, M) plus the loss-to-error map, "
        "'approaches' = Chinchilla approaches 1-3 side by side, 'datamix' = one compute law per corpus and the "
        "effective compute multipliers",
    )
    fp.add_argument(
        "--budget",
        type=float,
        default=None,
        help="compute budget in FLOPs (default 1e23): N_opt, D_opt, tokens/param (chinchilla), predicted loss "
        "(compute), N_opt per approach (approaches), multipliers (datamix); refused by the kaplan and "
        "overtraining laws",
    )
    fp.add_argument(
        "--fix",
        action="append",
        metavar="NAME=VALUE",
        help="constrained fit: hold a parameter fixed, repeatable, e.g. --fix E=1.69 --fix alpha=0.34 "
        "(chinchilla: E, alpha, beta; compute: E, alpha)",
    )
    fp.add_argument(
        "--tie",
        action="append",
        metavar="alpha=beta",
        help="constrained fit: tie the exponents, --tie alpha=beta (chinchilla only)",
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
    _bootstrap_arg(fp, settings, "over runs")
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
    _bootstrap_arg(fr, settings, "over evaluation points")
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
    _bootstrap_arg(ft, settings, "over problems for the coverage fit")
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
    _bootstrap_arg(p, settings, "over runs of a fresh 'fit:' law")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = sub.add_parser("demo", help="ingest the bundled real sample data, fit, and serve the app")
    p.add_argument("--db", default="var/demo.duckdb", help="DuckDB file to build (default var/demo.duckdb)")
    p.add_argument("--no-serve", action="store_true", help="build and fit only; do not start the app")
    _bootstrap_arg(p, settings, "kept with each default fit")
    _serve_args(p, settings)

    p = sub.add_parser("serve", help="serve the Streamlit app (localhost by default; --host to share it)")
    _db_arg(p, settings)
    _serve_args(p, settings)

    from app.services.simulator_cli import register as register_simulate

    register_simulate(sub, settings)

    p = sub.add_parser("sql", help="run one read-only SQL query (time-limited, row-capped)")
    _db_arg(p, settings)
    p.add_argument("query", help='the SQL query, e.g. "select * from v_final_loss limit 5"')
    p.add_argument(
        "--timeout", type=float, default=settings.sql_timeout_s, help="seconds before the query is killed"
    )
    p.add_argument("--max-rows", type=int, default=settings.sql_max_rows, help="rows returned at most")
    p.add_argument(
        "--max-bytes",
        type=int,
        default=settings.sql_max_bytes,
        help="bytes of result data returned at most (default 50 MB)",
    )
    p.add_argument(
        "--memory-mb",
        type=int,
        default=settings.sql_memory_mb,
        help="memory (MiB) the query's worker process may use (default 1024)",
    )
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true", help="print CSV (full values) instead of a table")
    fmt.add_argument(
        "--json", action="store_true", help="print a JSON list of row objects instead of a table"
    )
    p.add_argument(
        "--width", type=int, default=None, help="table width in characters (default: the terminal's)"
    )
    for extra in _EXTRA_COMMANDS:
        extra(sub, settings)
    return parser


#: Functions ``(subparsers, settings) -> None`` adding more subcommands (kept in their own modules; each sets
#: ``handler`` with ``set_defaults``).
_EXTRA_COMMANDS: list = [cli_store.add_commands]


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
    from data.connect import LockTimeoutError, writable_copy
    from data.ingest.quality import backfill_quality
    from data.migrate import migrate

    try:
        with writable_copy(args.db, lock_timeout=args.lock_timeout) as con:
            new = migrate(con)
            backfill_quality(con)  # data-quality rows for files loaded before migration 0030
    except LockTimeoutError as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    print(f"{args.db}: applied {len(new)} migration(s)" + (": " + ", ".join(new) if new else " (up to date)"))
    return 0


def cmd_watch(args) -> int:
    import signal
    import threading

    from data.ingest.watch import watch

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"watching {', '.join(args.paths)} every {args.interval:g} s into {args.db} (Ctrl-C stops)")
    try:
        rounds = watch(args.db, args.paths, interval_s=args.interval, source=args.source, stop=stop)
    except KeyboardInterrupt:
        rounds = None
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("stopped" + (f" after {rounds} ingest rounds" if rounds is not None else ""))
    return 0


def cmd_ingest(args) -> int:
    from dataclasses import asdict

    from tqdm import tqdm

    from data.connect import LockTimeoutError
    from data.ingest import ingest_paths

    if args.watch:
        return cmd_watch(args)
    quiet = args.quiet or args.json
    try:
        report = ingest_paths(
            args.db,
            args.paths,
            source=args.source,
            progress=None if quiet else (lambda files: tqdm(files, desc="ingest", unit="file", leave=False)),
            include_hidden=args.include_hidden,
            lock_timeout=args.lock_timeout,
        )
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except LockTimeoutError as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    counts = {s: report.count(s) for s in ("loaded", "unchanged", "failed", "skipped")}
    nothing = counts["loaded"] == 0 and counts["unchanged"] == 0
    if not quiet:
        for f in report.files:
            if f.status == "failed":
                print(f"FAILED   {f.path}: {f.message}", file=sys.stderr)
            elif f.status == "skipped":
                print(f"skipped  {f.path}: {f.message}", file=sys.stderr)
            elif f.status == "loaded" and f.n_rejects:
                print(
                    f"loaded   {f.path}: {f.n_runs} runs, {f.n_rows} rows, {f.n_rejects} rejected (see v_rejects)"
                )
    if not args.json:
        warnings = report.warnings
        for w in warnings[:20]:
            print(f"warning: run {w}: a pretraining fit will leave it out (docs/FORMATS.md)", file=sys.stderr)
        if len(warnings) > 20:
            print(f"warning: {len(warnings) - 20} more runs lack N, D or a loss", file=sys.stderr)
        print(
            f"{args.db}: {counts['loaded']} loaded, {counts['unchanged']} unchanged, "
            f"{counts['failed']} failed, {counts['skipped']} skipped; {report.n_rejects} rejected records"
        )
        if nothing:
            print("error: nothing was loaded from the paths given", file=sys.stderr)
    else:
        print(
            to_json(
                {
                    "db": str(args.db),
                    "counts": counts,
                    "n_rejects": report.n_rejects,
                    "nothing_loaded": nothing,
                    "warnings": report.warnings,
                    "files": [asdict(f) for f in report.files],
                }
            )
        )
    return 1 if counts["failed"] or nothing else 0


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

    from app.services.sizing import size_model
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
                n_boot=args.bootstrap,
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
        "identifiability": res.identifiability or None,
        "warnings": res.warnings,
    }
    if args.json:
        print(to_json(payload))
    else:
        print(size_text(res))
    return 0


def size_text(res) -> str:
    """Readable summary of a ``SizingResult``: the law, the target, and N, D, tokens per parameter and total FLOPs
    of both optima with 95% intervals (or why there are none)."""
    from app.numfmt import human, interval, num, sci, text_table
    from app.services.sizing import summary_rows

    fmts = {
        "tokens per parameter": lambda v: f"{v:.1f}",
        "total FLOPs (train + inference)": lambda v: sci(v, 3),
    }
    keys = {"parameters N": "N", "training tokens D": "D", "tokens per parameter": "tokens_per_param"}
    rows = []
    for r in summary_rows(res):
        f = fmts.get(r["quantity"], human)
        iv = res.intervals.get(keys.get(r["quantity"], ""))
        ci = interval(*iv, fmt=f) if iv else "n/a"
        rows.append([r["quantity"], f(r["inference-aware"]), f(r["Chinchilla-optimal"]), ci])
    o, p = res.optimum, res.params
    head = (
        f"law: {res.law_label} (E={num(p['E'])}, A={num(p['A'])}, B={num(p['B'])}, alpha={num(p['alpha'])}, "
        f"beta={num(p['beta'])})\ntarget loss {res.target_loss:.4f} nats/token; lifetime inference "
        f"{human(res.inference_tokens)} tokens; saving {100 * o['saving_fraction']:.1f}% "
        f"({sci(o['saving_flops'], 2)} FLOPs)"
    )
    note = (
        f"95% intervals from {res.n_replicates} replicates of the law."
        if res.intervals
        else "No interval: this law has no bootstrap replicates (presets are published point estimates; use "
        "'fit:SOURCE' or a stored fit with replicates)."
    )
    table = text_table(["quantity", "inference-aware", "Chinchilla-optimal", "95% interval"], rows)
    lines = [head, table, note]
    if res.identifiability:
        per = ", ".join(f"{k} {v['verdict']}" for k, v in res.identifiability.get("parameters", {}).items())
        lines.append(f"law identifiability: {res.identifiability['verdict'].upper()} ({per})")
    lines.extend(f"WARNING: {w}" for w in res.warnings)
    return "\n".join(lines)


def cmd_demo(args) -> int:
    from app.services.demo import build_demo

    build_demo(args.db, SAMPLES_DIR, echo=print, n_boot=args.bootstrap)
    if args.no_serve:
        return 0
    return serve(
        args.db, args.port, args.host, args.allowed_host or _split(Settings.from_env().allowed_hosts)
    )


def _split(text: str) -> list[str]:
    return [h for h in text.replace(",", " ").split() if h]


_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def allowed_hosts_for(host: str, explicit: list[str] | None) -> list[str]:
    """Host names the served app accepts in WebSocket ``Host`` headers (Streamlit's ``server.allowedHosts``).

    ``explicit`` wins when given (``["*"]`` accepts any). Otherwise: the localhost names, and when ``host`` is not
    a loopback address, this machine's host name, fully qualified name and addresses (and ``host`` itself
    unless it is a wildcard address).
    """
    if explicit:
        return list(dict.fromkeys(h.strip() for h in explicit if h.strip()))
    names = list(_LOCAL_HOSTS)
    if host not in _LOCAL_HOSTS:
        import socket

        names += [socket.gethostname(), socket.getfqdn()]
        try:
            names += socket.gethostbyname_ex(socket.gethostname())[2]
        except OSError:
            pass
        if host not in ("0.0.0.0", "::", ""):
            names.append(host)
    return list(dict.fromkeys(n for n in names if n))


def serve(
    db: str, port: int, host: str = "localhost", allowed_hosts: list[str] | None = None, *, echo=print
) -> int:
    """Run ``streamlit run app/streamlit_app.py`` with ``SCALING_DB`` set until it exits or we get a signal.

    Streamlit runs in its own process group. SIGTERM, SIGINT (Ctrl-C) and SIGHUP to this process are forwarded to
    that whole group; if the server has not stopped 10 s later the group is killed. Whatever remains of the group
    (e.g. query workers) is killed when the server exits, so the port is always freed. Returns 0 after a
    signal, else Streamlit's exit code.
    """
    import signal
    import time

    hosts = allowed_hosts_for(host, allowed_hosts)
    env = dict(os.environ, SCALING_DB=str(Path(db).resolve()))
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "app" / "streamlit_app.py"),
        "--server.port", str(port), "--server.address", host,
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    for h in hosts:
        cmd += ["--server.allowedHosts", h]
    shown = "localhost" if host in _LOCAL_HOSTS else host
    echo(f"serving {db} at http://{shown}:{port}  (accepted host names: {', '.join(hosts)}; Ctrl-C to stop)")
    proc = subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, start_new_session=True)
    stopping: list[float] = []

    def kill_group(sig: int) -> None:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def forward(signum, _frame) -> None:
        if not stopping:
            stopping.append(time.monotonic())
        kill_group(signal.SIGTERM)

    sigs = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP]
    import threading

    in_main = threading.current_thread() is threading.main_thread()  # handlers can only be set there
    previous = {sig: signal.signal(sig, forward) for sig in sigs} if in_main else {}
    try:
        while True:
            try:
                rc = proc.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if stopping and time.monotonic() - stopping[0] > 10:
                    kill_group(signal.SIGKILL)
    finally:
        kill_group(signal.SIGKILL)  # anything left in the group (the server's own children)
        if proc.poll() is None:
            proc.wait(timeout=10)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if stopping else rc


def cmd_sql(args) -> int:
    from data.sql_console import QueryTimeout, SqlError, run_sql

    try:
        res = run_sql(
            args.db,
            args.query,
            timeout_s=args.timeout,
            max_rows=args.max_rows,
            max_bytes=args.max_bytes,
            memory_mb=args.memory_mb,
        )
    except (QueryTimeout, SqlError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # never a traceback for a console query
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    if args.csv:
        print(res.frame.write_csv(), end="")
    elif args.json:
        print(to_json(res.frame.to_dicts()))
    else:
        from app.numfmt import text_table

        print(text_table(res.frame.columns, res.frame.rows(), width=args.width))
    if res.truncated:
        print(f"(truncated at {res.frame.height:,} rows: {res.truncated_reason})", file=sys.stderr)
    return 0


def cmd_simulate(args) -> int:
    from app.services.simulator_cli import run

    return run(args)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``scaling`` console script; returns the exit code."""
    settings = Settings.from_env()
    args = build_parser(settings).parse_args(argv)
    settings.apply_filter_limits()
    try:
        if getattr(args, "handler", None):
            return args.handler(args)
        return _HANDLERS[args.command](args)
    except BrokenPipeError:  # `scaling sql ... | head`
        sys.stderr.close()
        return 0


def _serve_cmd(args) -> int:
    return serve(args.db, args.port, args.host, args.allowed_host or _split(Settings.from_env().allowed_hosts))


#: Handlers of the commands defined in this module (commands in other modules set ``handler`` themselves).
_HANDLERS = {
    "migrate": cmd_migrate,
    "ingest": cmd_ingest,
    "fit": cmd_fit,
    "demo": cmd_demo,
    "serve": _serve_cmd,
    "sql": cmd_sql,
    "size": cmd_size,
    "simulate": cmd_simulate,
}


if __name__ == "__main__":
    raise SystemExit(main())
