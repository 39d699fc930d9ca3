"""``scaling label``, ``scaling delete`` and ``scaling export``: curate the store with an audit trail and write
copies other DuckDB clients open. Parser functions import only the standard library (fast ``--help``)."""

from __future__ import annotations

import getpass
import sys


def add_commands(sub, settings) -> None:
    """Add the curation and export subcommands to ``sub`` (the ``scaling`` subparsers)."""
    db_help = f"DuckDB file (default: $SCALING_DB or {settings.db})"
    p = sub.add_parser(
        "label",
        help="set labels (source, corpus, recipe, ...) of runs; recorded in v_audit, undone by re-ingesting the file",
    )
    p.add_argument("runs", nargs="*", metavar="RUN", help="run ids (and/or select with --where)")
    p.add_argument("--db", default=settings.db, help=db_help)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        required=True,
        help="label to set (repeatable): source, corpus, recipe, model_family, base_model, algorithm, "
        "reward_shaping or loss_metric; an empty value clears it",
    )
    p.add_argument(
        "--where", help="SQL filter over v_runs columns selecting more runs, e.g. \"source = 'x'\""
    )
    p.add_argument(
        "--by", default=None, help="who makes the change, for the audit trail (default: the OS user)"
    )
    p.add_argument("--dry-run", action="store_true", help="list the selected runs and change nothing")
    p.set_defaults(handler=cmd_label)

    p = sub.add_parser(
        "delete",
        help="delete runs with their metrics and eval rows; recorded in v_audit, undone by re-ingesting the file",
    )
    p.add_argument("runs", nargs="*", metavar="RUN", help="run ids (and/or select with --where)")
    p.add_argument("--db", default=settings.db, help=db_help)
    p.add_argument("--where", help="SQL filter over v_runs columns selecting more runs")
    p.add_argument(
        "--by", default=None, help="who makes the change, for the audit trail (default: the OS user)"
    )
    p.add_argument("--dry-run", action="store_true", help="list the selected runs and change nothing")
    p.add_argument(
        "--yes", action="store_true", help="do not ask for confirmation when more than 10 runs match"
    )
    p.set_defaults(handler=cmd_delete)

    p = sub.add_parser(
        "export", help="write a copy of the store for other clients: DuckDB 1.x file or Parquet"
    )
    p.add_argument("--db", default=settings.db, help=db_help)
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument(
        "--duckdb-compat",
        metavar="OUT",
        help="new DuckDB file in storage version v1.0.0, which the DuckDB 1.x CLI, DBeaver and older Python "
        "packages open (tables, views and sequences copied)",
    )
    out.add_argument(
        "--parquet",
        metavar="DIR",
        help="empty folder for one Parquet file per table plus schema.sql and load.sql (IMPORT DATABASE)",
    )
    p.add_argument(
        "--storage-version",
        default="v1.0.0",
        help="storage version of --duckdb-compat (default v1.0.0: readable by DuckDB >= 1.0)",
    )
    p.set_defaults(handler=cmd_export)


def _actor(args) -> str:
    if args.by:
        return args.by
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment (containers)
        return "unknown"


def _select(args) -> list[str]:
    from data.connect import open_ro
    from data.curate import select_runs

    con = open_ro(args.db)
    try:
        return select_runs(con, list(args.runs), args.where)
    finally:
        con.close()


def _run(args, change) -> int:
    """Select runs read-only, then apply ``change(con, ids, actor) -> message`` on a writable copy."""
    import duckdb

    from data.connect import writable_copy
    from data.migrate import migrate

    try:
        ids = _select(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except duckdb.Error as e:
        print(f"error: --where failed ({type(e).__name__}): {e}", file=sys.stderr)
        return 2
    if args.dry_run:
        print("\n".join(ids))
        print(f"({len(ids)} run(s) selected; --dry-run: nothing changed)", file=sys.stderr)
        return 0
    try:
        with writable_copy(args.db) as con:
            migrate(con)
            msg = change(con, ids, _actor(args))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{args.db}: {msg} (see v_audit; re-ingest the runs' files to undo)")
    return 0


def cmd_label(args) -> int:
    from data.curate import label_runs, parse_assignments

    try:
        updates = parse_assignments(args.set)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    def change(con, ids, actor):
        n = label_runs(con, ids, updates, actor=actor, via="cli")
        return f"{n} label value(s) changed on {len(ids)} run(s)"

    return _run(args, change)


def cmd_delete(args) -> int:
    from data.curate import delete_runs

    if not args.yes and not args.dry_run and args.where:
        try:
            ids = _select(args)
        except Exception:
            ids = []
        if len(ids) > 10 and sys.stdin.isatty():
            if input(f"delete {len(ids)} runs? [y/N] ").strip().lower() != "y":
                print("nothing deleted", file=sys.stderr)
                return 1

    def change(con, ids, actor):
        counts = delete_runs(con, ids, actor=actor, via="cli")
        return f"deleted {counts['runs']} run(s), {counts['metrics']:,} metric rows, " + (
            f"{counts['eval_samples']:,} eval answers, {counts['eval_counts']:,} eval counts"
        )

    return _run(args, change)


def cmd_export(args) -> int:
    from data.export_store import export_duckdb_compat, export_parquet

    try:
        if args.duckdb_compat:
            out = export_duckdb_compat(args.db, args.duckdb_compat, args.storage_version)
            print(
                f"wrote {out} (storage version {args.storage_version}): open it with e.g. `duckdb -readonly {out}`"
            )
        else:
            files = export_parquet(args.db, args.parquet)
            print(
                f"wrote {len(files)} files to {args.parquet} (IMPORT DATABASE '{args.parquet}' rebuilds the store)"
            )
    except (FileNotFoundError, FileExistsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # duckdb errors (unknown storage version, disk full)
        print(f"error: export failed ({type(e).__name__}): {e}", file=sys.stderr)
        return 2
    return 0
