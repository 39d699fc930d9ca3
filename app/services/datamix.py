"""Data-mix comparison: one compute law per corpus of a source, exponents with intervals, compute multipliers.

Each corpus is fitted separately with L(C) = E + A C^-alpha on its lowest-loss frontier (lowest loss per nominal
budget, or per log-bin of C when runs have no budget); the effective compute multiplier of a mix against a
reference at a budget C is C'/C with L_ref(C') = L_mix(C) (``analysis.datamix.compare_mixes``). Porian et al.
(2024), arXiv:2406.19146; Hoffmann et al. (2022), arXiv:2203.15556.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import polars as pl

from analysis.compute_optimal import fit_compute_law
from analysis.datamix import compare_mixes, compute_law, compute_multiplier
from analysis.identifiability import compute_law_identifiability
from analysis.loss_frontier import lowest_loss_per_budget
from analysis.results import FitResult
from analysis.uncertainty import bootstrap_fit
from app.services.common import fit_record
from data import queries

#: Exponent grid of the bootstrap refits (coarser than the full fit's 300 values; each refit is then polished).
_BOOT_GRID = np.linspace(0.005, 1.5, 60)


def _multiplier_interval(ref: FitResult, mix: FitResult, C: float) -> tuple[float, float]:
    """95% interval of the multiplier from paired replicates (inf when the reference never reaches the loss).

    Percentiles use the inverted CDF so that infinite replicates give an infinite upper bound instead of NaN.
    """
    rr, rm = ref.bootstrap.replicates, mix.bootstrap.replicates
    vals = []
    for i in range(ref.bootstrap.n):
        pr = {k: float(rr[k][i]) for k in ("E", "A", "alpha")}
        pm = {k: float(rm[k][i]) for k in ("E", "A", "alpha")}
        if not all(np.isfinite(v) for v in (*pr.values(), *pm.values())):
            continue
        vals.append(
            compute_multiplier(
                lambda c, p=pr: float(compute_law(p, c)[0]), lambda c, p=pm: float(compute_law(p, c)[0]), C
            )
        )
    v = np.asarray(vals, dtype=float)
    v = v[~np.isnan(v)]
    if v.size < 2:
        return (np.nan, np.nan)
    lo, hi = np.quantile(v, [0.025, 0.975], method="inverted_cdf")
    return float(lo), float(hi)


@dataclass
class MixComparison:
    """Outcome of :func:`compare_corpora`.

    Attributes
    ----------
    points : polars.DataFrame
        All runs of the selection (v_pretrain_points rows) with ``corpus``.
    frontier : polars.DataFrame
        Fitted points per corpus: corpus, budget_flops, compute_flops (FLOPs), loss (nats/token), n_runs.
    fits : dict[str, FitResult]
        Compute law per corpus (params E, A, alpha), bootstrap replicates over frontier points kept.
    table : polars.DataFrame
        One row per corpus: mix, C (budget, FLOPs), E, A, alpha, L (loss at C), multiplier (how many times C the
        reference needs to match this mix's loss at C; > 1 = better than the reference), reason, and with
        replicates E_lo, E_hi, alpha_lo, alpha_hi, multiplier_lo, multiplier_hi (95%); n_points; identifiability
        ("identified" or "not identified: E, ..." from the objective profiles, ``analysis.identifiability``).
    curves : polars.DataFrame
        Fitted L(C) per corpus over the data range: corpus, compute_flops, loss.
    reference : str
        The reference corpus.
    records : list[dict]
        Fit records (axis "pretraining", law "compute").
    """

    points: pl.DataFrame
    frontier: pl.DataFrame
    fits: dict[str, FitResult]
    table: pl.DataFrame
    curves: pl.DataFrame
    reference: str
    records: list[dict[str, Any]]


def _verdict_text(ident: dict) -> str:
    """``"identified"``, ``"weakly identified: alpha"`` or ``"not identified: E"`` (``analysis.identifiability``)."""
    if ident["verdict"] == "identified":
        return "identified"
    if ident["verdict"] == "weakly identified":
        return "weakly identified: " + ", ".join(ident["weakly_identified"])
    return "not identified: " + (", ".join(ident["not_identified"]) or "zero degrees of freedom")


def compare_corpora(
    con: duckdb.DuckDBPyConnection,
    source: str,
    where: str | None = None,
    *,
    budget: float = 1e22,
    reference: str | None = None,
    n_boot: int = 50,
    seed: int = 0,
) -> MixComparison:
    """Fit each corpus of ``source`` separately and compare them at ``budget``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Read connection.
    source : str
        ``runs.source`` with several corpora (e.g. marin_isoflops, gadre_overtraining).
    where : str, optional
        Extra SQL filter (e.g. ``"recipe = 'isoflop-ladder'"``).
    budget : float
        Compute budget C, FLOPs (> 0), for the multiplier.
    reference : str, optional
        Reference corpus (default: the first in alphabetical order).
    n_boot : int
        Bootstrap replicates over frontier points per corpus (0 for none); replicate b of each corpus is paired
        with replicate b of the reference for the multiplier interval.
    seed : int
        Bootstrap seed (one child generator per corpus).

    Returns
    -------
    MixComparison

    Raises
    ------
    ValueError
        Fewer than two corpora, an unknown reference, a non-positive budget, or a corpus with fewer than 4
        frontier points.

    Notes
    -----
    Porian et al. (2024), arXiv:2406.19146 (compute law on isoFLOP optima).
    """
    if not (np.isfinite(budget) and budget > 0):
        raise ValueError(f"budget must be a positive number of FLOPs, got {budget}")
    pts = queries.pretrain_points(con, source, where).filter(pl.col("corpus").is_not_null())
    corpora = sorted(set(pts["corpus"].to_list()))
    if len(corpora) < 2:
        raise ValueError(
            f"{source!r} has {len(corpora)} corpus in this selection; need at least two to compare"
        )
    ref = reference or corpora[0]
    if ref not in corpora:
        raise ValueError(f"reference {ref!r} is not one of {corpora}")
    fits: dict[str, FitResult] = {}
    fronts, curves = [], []
    ss = np.random.SeedSequence(seed).spawn(len(corpora))
    for corpus, s in zip(corpora, ss, strict=True):
        p = pts.filter(pl.col("corpus") == corpus)
        budget_col = p["budget_flops"].fill_null(float("nan")).to_numpy()
        f = lowest_loss_per_budget(p["compute_flops"].to_numpy(), p["loss"].to_numpy(), budget_col)
        if f.height < 4:
            raise ValueError(f"corpus {corpus!r} has {f.height} frontier points; need at least 4")
        C, L = f["compute_flops"].to_numpy(), f["loss"].to_numpy()
        try:
            fit = fit_compute_law(C, L)
        except RuntimeError as e:  # FitError
            raise ValueError(f"compute law fit failed for corpus {corpus!r}: {e}") from e
        ident = compute_law_identifiability(C, L, fit)
        fit = dataclasses.replace(fit, extra={**fit.extra, "identifiability": ident})
        if n_boot > 0:
            b = bootstrap_fit(
                lambda C, L: fit_compute_law(C, L, n_refine=2, alpha_grid=_BOOT_GRID),
                {"C": C, "L": L},
                None,
                n_boot=n_boot,
                rng=np.random.default_rng(s),
            )
            fit = dataclasses.replace(fit, bootstrap=b)
        fits[corpus] = fit
        fronts.append(f.with_columns(pl.lit(corpus).alias("corpus")))
        grid = np.logspace(np.log10(C.min()), np.log10(max(C.max(), budget)), 60)
        curves.append(
            pl.DataFrame(
                {"corpus": [corpus] * grid.size, "compute_flops": grid, "loss": compute_law(fit.params, grid)}
            )
        )
    ordered = {ref: fits[ref], **{k: v for k, v in fits.items() if k != ref}}
    table = compare_mixes({k: v.params for k, v in ordered.items()}, budget, reference=ref)
    extra: dict[str, list[float]] = {
        k: [] for k in ("E_lo", "E_hi", "alpha_lo", "alpha_hi", "multiplier_lo", "multiplier_hi")
    }
    for m in table["mix"].to_list():
        f = ordered[m]
        for k in ("E", "alpha"):
            lo, hi = f.interval(k)
            extra[f"{k}_lo"].append(lo)
            extra[f"{k}_hi"].append(hi)
        lo, hi = _multiplier_interval(ordered[ref], f, budget) if n_boot > 0 else (np.nan, np.nan)
        extra["multiplier_lo"].append(lo)
        extra["multiplier_hi"].append(hi)
    table = table.with_columns(
        *(pl.Series(k, v, dtype=pl.Float64) for k, v in extra.items()),
        pl.Series("n_points", [ordered[m].n_points for m in table["mix"].to_list()]),
        pl.Series(
            "identifiability",
            [_verdict_text(ordered[m].extra["identifiability"]) for m in table["mix"].to_list()],
            dtype=pl.String,
        ),
    )
    records = [
        fit_record(
            "pretraining",
            v,
            {"source": source, "where": where, "corpus": k},
            {"law": "compute", "points": "lowest loss per budget", "bootstrap": n_boot, "seed": seed},
        )
        for k, v in ordered.items()
    ]
    return MixComparison(pts, pl.concat(fronts), fits, table, pl.concat(curves), ref, records)
