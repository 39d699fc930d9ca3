"""``scaling demo``: ingest the bundled real samples and record the default fits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from app.services.common import fit_record
from app.services.pretraining import fit_pretraining, select_points
from data import queries
from data.connect import open_ro, writable_copy
from data.fits import save_fit
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
    """Ingest ``samples`` into ``db`` and store a Chinchilla and a compute-law fit per pretraining source."""
    report = ingest_paths(
        db, demo_paths(samples), progress=lambda f: tqdm(f, desc="ingest samples", unit="file", leave=False)
    )
    echo(
        f"{db}: {report.count('loaded')} files loaded, {report.count('unchanged')} unchanged, "
        f"{report.count('failed')} failed; {report.n_rejects} rejected records"
    )
    con = open_ro(db)
    records = []
    try:
        srcs = queries.pretrain_sources(con)["source"].to_list()
        for src in tqdm(srcs, desc="default fits", unit="source", leave=False):
            where = DEMO_SELECTIONS.get(src)
            pts = select_points(con, src, where)
            for law in ("chinchilla", "compute"):
                try:
                    fit = fit_pretraining(
                        pts, law=law, selection={"source": src, "where": where}, n_boot=n_boot, backtest=True
                    )
                except ValueError as e:
                    echo(f"  {src}: {law} fit skipped ({e})")
                    continue
                records.append(
                    fit_record(
                        "pretraining",
                        fit.result,
                        fit.selection,
                        {"law": law, "bootstrap": n_boot},
                        backtest=fit.backtest,
                        checklist=fit.checklist,
                    )
                )
    finally:
        con.close()
    with writable_copy(db) as con:
        for r in records:
            save_fit(con, r)
    echo(f"{db}: stored {len(records)} default fits")
