"""``scaling demo``: ingest the bundled real samples and record the default fits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from app.services.common import code_version, fit_record
from app.services.pretraining import fit_pretraining, select_points
from data import queries
from data.connect import open_ro, writable_copy
from data.fits import data_version, fit_exists, fit_id_for, save_fit
from data.ingest import ingest_paths

#: Sources whose runs must not be pooled get a default selection: Porian et al.'s isoFLOP data holds 15
#: configurations with different N/C conventions and train vs val losses; the demo fits their final setting
#: (tuned optimizer, short warmup, constant LR, standard counting, RefinedWeb validation loss).
DEMO_SELECTIONS: dict[str, str] = {
    "porian_compute_optimal": "corpus = 'rw' AND recipe = 'tuned-short-const-standard-val'",
}


def demo_paths(samples: Path) -> list[Path]:
    """The sample folders the demo ingests: everything under ``samples`` except the JSON Lines copies of the verl
    runs (the demo reads the same three runs from their raw console logs through the verl adapter)."""
    out = []
    for p in sorted(Path(samples).iterdir()):
        if not p.is_dir():
            continue
        if p.name == "verl_gsm8k_ppo":
            out.append(p / "raw")
        else:
            out.append(p)
    return out


def build_demo(
    db: str | Path, samples: Path, *, echo: Callable[[str], None] = print, n_boot: int = 0
) -> None:
    """Ingest ``samples`` into ``db`` and store a Chinchilla and a compute-law fit per pretraining source.

    Default fits are keyed by the data they read: the options hash in the source's ``data_version`` (a hash of its
    ``v_pretrain_points`` rows), so a fit whose selection, options, data and code are unchanged is found in ``fits``
    and not refitted; on unchanged data the demo performs no fit and opens no writable copy (issue 12 item 5).
    """
    report = ingest_paths(
        db, demo_paths(samples), progress=lambda f: tqdm(f, desc="ingest samples", unit="file", leave=False)
    )
    echo(
        f"{db}: {report.count('loaded')} files loaded, {report.count('unchanged')} unchanged, "
        f"{report.count('failed')} failed; {report.n_rejects} rejected records"
    )
    con = open_ro(db)
    records = []
    n_kept = 0
    refit_sources: set[str] = set()
    version = code_version()
    try:
        srcs = queries.pretrain_sources(con)["source"].to_list()
        for src in tqdm(srcs, desc="default fits", unit="source", leave=False):
            where = DEMO_SELECTIONS.get(src)
            pts = select_points(con, src, where)
            dv = data_version(pts)
            for law in ("chinchilla", "compute"):
                selection = {"source": src, "where": where, "n_runs": pts.height}
                options = {"law": law, "bootstrap": n_boot, "data_version": dv}
                if fit_exists(con, fit_id_for("pretraining", law, selection, options, version)):
                    n_kept += 1
                    continue
                try:
                    fit = fit_pretraining(pts, law=law, selection=selection, n_boot=n_boot, backtest=True)
                except ValueError as e:
                    echo(f"  {src}: {law} fit skipped ({e})")
                    continue
                records.append(
                    fit_record(
                        "pretraining",
                        fit.result,
                        fit.selection,
                        options,
                        backtest=fit.backtest,
                        checklist=fit.checklist,
                    )
                )
                refit_sources.add(src)
    finally:
        con.close()
    if not records:
        echo(f"{db}: default fits up to date ({n_kept} kept, data unchanged): no refit")
        return
    with writable_copy(db) as con:
        for r in records:
            save_fit(con, r)
    echo(
        f"{db}: stored {len(records)} default fits for {len(refit_sources)} changed source(s) "
        f"({', '.join(sorted(refit_sources))}); {n_kept} kept"
    )
