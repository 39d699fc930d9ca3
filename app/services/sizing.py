"""Inference-aware model sizing (Sardana calculator) from a Chinchilla law: preset, stored fit or fresh fit.

Given a Chinchilla law L(N, D) = E + A/N^alpha + B/D^beta, a target loss (or "the loss of a Chinchilla-optimal
model of N parameters") and a lifetime inference demand D_inf (tokens), find the (N*, D*) on the iso-loss curve
that minimises 6 N D + 2 N D_inf, and compare with the training-compute-optimal model of the same loss.
Sardana et al. (2024), arXiv:2401.00448; Hoffmann et al. (2022), arXiv:2203.15556.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import polars as pl

from analysis.compute_optimal import compute_optimal_allocation
from analysis.inference_aware import inference_aware_optimum, tokens_for_loss
from analysis.laws import chinchilla_loss

_KEYS = ("E", "A", "B", "alpha", "beta")

#: Published parameter sets (E nats/token; A, B loss x N^alpha, D^beta; alpha, beta dimensionless).
PRESETS: dict[str, dict[str, float]] = {
    # Hoffmann et al. 2022 (arXiv 2203.15556) TeX source, unrounded (METHODS.md s.2).
    "Chinchilla (unrounded)": {
        "E": math.exp(0.5267228),
        "A": math.exp(6.0073404),
        "B": math.exp(6.0179186),
        "alpha": 0.33917084,
        "beta": 0.2849083,
    },
    # Hoffmann et al. 2022, Eq. 10 as printed.
    "Chinchilla (rounded, Eq. 10)": {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28},
    # Besiroglu et al. 2024 (Epoch AI), arXiv 2404.10102, refit on the reconstructed data (METHODS.md s.3).
    "Epoch refit (Besiroglu 2024)": {"E": 1.817, "A": 482.0, "B": 2085.4, "alpha": 0.348, "beta": 0.366},
}


@dataclass
class SizingResult:
    """Outcome of :func:`size_model`.

    Attributes
    ----------
    law_label : str
        Where the law came from.
    params : dict[str, float]
        The law used.
    target_loss : float
        Target loss, nats/token.
    inference_tokens : float
        Lifetime inference demand, tokens.
    optimum : dict[str, float]
        ``inference_aware_optimum`` output: N, D (tokens), tokens_per_param, train_flops, inference_flops,
        total_flops, N0, D0, total_flops0, saving_flops, saving_fraction.
    intervals : dict[str, tuple[float, float]]
        95% intervals of N, D, tokens_per_param, saving_flops, saving_fraction over the law's replicates (empty
        without replicates).
    curve : polars.DataFrame
        Along the iso-loss curve: N (params), D (tokens), train_flops, inference_flops, total_flops (FLOPs).
    n_replicates : int
        Replicates that gave a valid optimum.
    identifiability : dict
        The underlying fit's identifiability record (``analysis.identifiability``: verdict, spans in decades,
        per-parameter verdicts, warnings); empty for a preset or a stored fit recorded without one.
    warnings : list[str]
        Plain sentences: the fit's identifiability warnings and, when the sizing rests on a parameter the runs
        do not identify, a warning that N*, D* and their intervals are not trustworthy.
    """

    law_label: str
    params: dict[str, float]
    target_loss: float
    inference_tokens: float
    optimum: dict[str, float]
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    curve: pl.DataFrame = field(default_factory=pl.DataFrame)
    n_replicates: int = 0
    identifiability: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def chinchilla_optimal_loss(params: dict[str, float], N: float) -> tuple[float, float]:
    """Loss and tokens of the Chinchilla-optimal model with ``N`` parameters.

    Inverts N_opt = G (C/6)^a to the budget C at which N is compute-optimal; D_opt = C / (6 N).

    Parameters
    ----------
    params : dict
        E, A, B, alpha, beta.
    N : float
        Parameters (> 0).

    Returns
    -------
    (float, float)
        (loss in nats/token, D_opt in tokens).

    Raises
    ------
    ValueError
        Invalid parameters or N <= 0.

    Notes
    -----
    Hoffmann et al. (2022), arXiv:2203.15556, closed form; Sardana et al. (2024), arXiv:2401.00448 (13B -> 617B
    tokens, loss 2.0238 with the unrounded parameters).
    """
    if not (math.isfinite(N) and N > 0):
        raise ValueError(f"N must be a positive number of parameters, got {N}")
    al, be = params["alpha"], params["beta"]
    a = be / (al + be)
    G = (al * params["A"] / (be * params["B"])) ** (1 / (al + be))
    c6 = (N / G) ** (1 / a)
    alloc = compute_optimal_allocation(params, [6 * c6])
    D = float(alloc.D_opt[0])
    return float(chinchilla_loss(N, D, *(params[k] for k in _KEYS))), D


def _law(
    con: duckdb.DuckDBPyConnection, law: str, n_boot: int = 30
) -> tuple[str, dict[str, float], list[dict[str, float]], dict[str, Any]]:
    """Resolve ``law``: ``preset:<name>``, ``stored:<fit_id>`` or ``fit:<source>`` / ``fit:<source>|<where>``.

    Returns the label, the parameters, the replicates and the fit's identifiability record ({} for a preset).
    """
    kind, _, arg = law.partition(":")
    if kind == "preset":
        if arg not in PRESETS:
            raise ValueError(f"unknown preset {arg!r}; choose one of {', '.join(PRESETS)}")
        return arg, dict(PRESETS[arg]), [], {}
    if kind == "stored":
        from data.fits import load_fit

        rec = load_fit(con, arg)
        if rec is None:
            raise ValueError(f"no stored fit with id {arg!r}")
        if rec["law"] != "chinchilla":
            raise ValueError(f"fit {arg} is a {rec['law']!r} law; the calculator needs a chinchilla fit")
        params = {k: float(rec["result"]["params"][k]) for k in _KEYS}
        reps = (rec.get("replicates") or {}).get("replicates") or {}
        out = []
        if all(k in reps for k in _KEYS):
            for i in range(len(reps["E"])):
                vals = [reps[k][i] for k in _KEYS]
                if all(v is not None and math.isfinite(v) for v in vals):
                    out.append(dict(zip(_KEYS, map(float, vals), strict=True)))
        ident = ((rec.get("result") or {}).get("extra") or {}).get("identifiability") or {}
        return f"stored fit {arg}", params, out, ident
    if kind == "fit":
        from app.services.pretraining import fit_pretraining, select_points

        source, _, where = arg.partition("|")
        pts = select_points(con, source, where or None)
        pfit = fit_pretraining(pts, law="chinchilla", n_boot=n_boot)
        res = pfit.result
        reps = []
        if res.bootstrap is not None:
            r = res.bootstrap.replicates
            for i in range(res.bootstrap.n):
                v = {k: float(r[k][i]) for k in _KEYS}
                if all(math.isfinite(x) for x in v.values()):
                    reps.append(v)
        label = f"fresh fit to {source}" + (f" ({where})" if where else "")
        return label, dict(res.params), reps, dict(pfit.identifiability)
    raise ValueError(
        f"law must be 'preset:<name>', 'stored:<fit_id>' or 'fit:<source>[|<where>]', got {law!r}"
    )


def size_model(
    con: duckdb.DuckDBPyConnection,
    law: str = "preset:Chinchilla (unrounded)",
    *,
    inference_tokens: float = 2e12,
    target_loss: float | None = None,
    reference_params: float | None = 13e9,
    n_boot: int = 30,
    n_curve: int = 120,
) -> SizingResult:
    """Sardana calculator: inference-aware N*, D* for a target loss and lifetime inference demand.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Read connection (used for stored fits and fresh fits).
    law : str
        ``"preset:<name>"`` (see :data:`PRESETS`), ``"stored:<fit_id>"`` (a chinchilla fit record) or
        ``"fit:<source>[|<where>]"`` (fresh Approach-3 fit with ``n_boot`` bootstrap replicates).
    inference_tokens : float
        Lifetime inference demand D_inf, tokens (>= 0).
    target_loss : float, optional
        Target loss, nats/token (> E). When None, the loss of the Chinchilla-optimal model with
        ``reference_params`` parameters (recomputed per replicate, so intervals are about the same model).
    reference_params : float, optional
        Parameters of the reference Chinchilla-optimal model (used when ``target_loss`` is None).
    n_boot : int
        Bootstrap replicates over runs of a fresh fit (``"fit:..."`` laws only).
    n_curve : int
        Points of the total-FLOPs-vs-N curve.

    Returns
    -------
    SizingResult

    Raises
    ------
    ValueError
        Unknown law/preset/fit, a target loss at or below E, negative demand, or neither target given.

    Notes
    -----
    Sardana et al. (2024), arXiv:2401.00448: 13B Chinchilla-optimal model, D_inf = 2T -> N* = 7.1B, D* = 1.30T,
    16.3% fewer FLOPs with the unrounded Chinchilla parameters.
    """
    if target_loss is None and reference_params is None:
        raise ValueError("give a target loss or the size of a Chinchilla-optimal reference model")
    label, params, reps, ident = _law(con, law, n_boot)

    def target_for(p: dict[str, float]) -> float:
        return (
            float(target_loss) if target_loss is not None else chinchilla_optimal_loss(p, reference_params)[0]
        )

    tl = target_for(params)
    opt = inference_aware_optimum(params, tl, float(inference_tokens))
    keys = ("N", "D", "tokens_per_param", "saving_flops", "saving_fraction")
    vals: dict[str, list[float]] = {k: [] for k in keys}
    for p in reps[:200]:
        try:
            o = inference_aware_optimum(p, target_for(p), float(inference_tokens))
        except ValueError:
            continue
        for k in keys:
            vals[k].append(o[k])
    intervals = {}
    if len(vals["N"]) >= 2:
        for k in keys:
            lo, hi = np.quantile(vals[k], [0.025, 0.975])
            intervals[k] = (float(lo), float(hi))
    # iso-loss curve: from just above the smallest feasible N to well past N0
    n_min = (params["A"] / (tl - params["E"])) ** (1 / params["alpha"])
    lo = max(n_min * 1.05, min(opt["N"], opt["N0"]) / 20)
    grid = np.logspace(np.log10(lo), np.log10(max(opt["N"], opt["N0"]) * 8), n_curve)
    D = tokens_for_loss(params, tl, grid)
    ok = np.isfinite(D)
    grid, D = grid[ok], D[ok]
    train, inf = 6 * grid * D, 2 * grid * float(inference_tokens)
    curve = pl.DataFrame(
        {"N": grid, "D": D, "train_flops": train, "inference_flops": inf, "total_flops": train + inf}
    )
    return SizingResult(
        label,
        params,
        tl,
        float(inference_tokens),
        opt,
        intervals,
        curve,
        len(vals["N"]),
        ident,
        sizing_warnings(ident),
    )


def sizing_warnings(ident: dict[str, Any]) -> list[str]:
    """Warnings of a sizing from its law's identifiability record (``analysis.identifiability``).

    Parameters
    ----------
    ident : dict
        The fit's identifiability record ({} for a preset or an older stored fit).

    Returns
    -------
    list of str
        First, when a parameter is not identified (N* and D* depend on E, A, B, alpha and beta), a sentence
        naming it; then the record's own warnings. Empty for an identified fit or no record.
    """
    if not ident:
        return []
    out = []
    bad = list(ident.get("not_identified", []))
    if bad or ident.get("verdict") == "not identified":
        out.append(
            "this sizing rests on a law that is NOT identified by its runs ("
            + (", ".join(bad) if bad else "zero residual degrees of freedom")
            + " within the noise over a wide range): N*, D*, the saving and their intervals are not trustworthy."
        )
    return out + list(ident.get("warnings", []))


def stored_chinchilla_fits(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Stored chinchilla fits, newest first, for the law picker.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Read connection.

    Returns
    -------
    polars.DataFrame
        Columns ``fit_id`` and ``selection_json`` (string), one row per latest chinchilla fit of axis
        "pretraining" (``data.fits.list_fits``); empty when there is none.
    """
    from data.fits import list_fits

    f = list_fits(con, "pretraining")
    if f.height == 0:
        return pl.DataFrame(schema={"fit_id": pl.String, "selection_json": pl.String})
    return f.filter(pl.col("law") == "chinchilla").select("fit_id", pl.col("selection_json").cast(pl.String))


def summary_rows(res: SizingResult) -> list[dict[str, Any]]:
    """Display rows comparing the inference-aware and the Chinchilla-optimal model.

    Parameters
    ----------
    res : SizingResult
        Output of :func:`size_model`.

    Returns
    -------
    list of dict
        Four rows (parameters, training tokens, tokens per parameter, total FLOPs) with keys ``quantity``,
        ``inference-aware``, ``Chinchilla-optimal`` and ``95% interval`` (text; empty without replicates).
    """
    o, iv = res.optimum, res.intervals

    def ci(k: str) -> str:
        return f"[{iv[k][0]:.3g}, {iv[k][1]:.3g}]" if k in iv else ""

    return [
        {
            "quantity": "parameters N",
            "inference-aware": o["N"],
            "Chinchilla-optimal": o["N0"],
            "95% interval": ci("N"),
        },
        {
            "quantity": "training tokens D",
            "inference-aware": o["D"],
            "Chinchilla-optimal": o["D0"],
            "95% interval": ci("D"),
        },
        {
            "quantity": "tokens per parameter",
            "inference-aware": o["tokens_per_param"],
            "Chinchilla-optimal": o["D0"] / o["N0"],
            "95% interval": ci("tokens_per_param"),
        },
        {
            "quantity": "total FLOPs (train + inference)",
            "inference-aware": o["total_flops"],
            "Chinchilla-optimal": o["total_flops0"],
            "95% interval": "",
        },
    ]
