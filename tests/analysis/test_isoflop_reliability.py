"""isoFLOP and envelope reliability verdicts on synthetic profiles with known truth."""

from __future__ import annotations

import numpy as np
import polars as pl

from analysis.envelope import envelope_runs_excluded, fit_envelope_allocation, training_curve_envelope
from analysis.isoflop import MIN_CELLS_PER_BUDGET, budget_report, isoflop_minima, screen_cells


def _profile(c: float, n_opt: float, k: int = 9, width: float = 1.5, noise: float = 0.0, rng=None):
    x = np.log(n_opt) + np.linspace(-width, width, k)
    loss = 3.0 + 0.05 * (x - np.log(n_opt)) ** 2
    if noise:
        loss = loss + noise * rng.standard_normal(k)
    return np.full(k, c), np.exp(x), loss


def test_bracketed_vs_not_bracketed():
    C, N, L = _profile(1e19, 1e8)
    m = isoflop_minima(C, N, L)
    assert m["status"][0] == "ok" and m["bracketed"][0] and m["convex"][0]
    # vertex just inside the sizes but the lowest-loss cell is the largest size: not bracketed by samples
    n = np.exp(np.log(1e8) + np.array([-3.0, -2.0, -1.0, 0.0]))
    loss = 3.0 + 0.05 * (np.log(n) - np.log(1e8) + 0.4) ** 2  # vertex 0.4 below the largest size
    m = isoflop_minima(np.full(4, 1e19), n, loss)
    assert m["inside"][0] and not m["bracketed"][0] and m["status"][0] == "not_bracketed"
    # vertex beyond the sizes: "edge"
    m = isoflop_minima(np.full(4, 1e19), n, 3.0 + 0.05 * (np.log(n) - np.log(1e10)) ** 2)
    assert m["status"][0] == "edge" and not m["bracketed"][0]


def test_convex_vs_not_and_minimum_cells():
    C, N, L = _profile(1e19, 1e8, k=5)
    m = isoflop_minima(C, N, -L)  # concave profile
    assert m["status"][0] == "not_convex" and not m["convex"][0]
    C, N, L = _profile(1e19, 1e8, k=MIN_CELLS_PER_BUDGET - 1)
    assert isoflop_minima(C, N, L)["status"][0] == "too_few_points"


def test_screen_cells_names_each_exclusion(rng):
    C, N, L = _profile(1e19, 1e8, k=13, width=2.0, noise=0.002, rng=rng)
    L = L.copy()
    L[1] = np.nan  # failed: no final loss
    L[12] = 2.0 * L[11]  # diverged: twice the loss of its neighbour
    L[6] += 0.3  # outlier at the minimum
    finished = np.ones(13, bool)
    finished[10] = False
    s = screen_cells(C, N, L, finished=finished)
    reasons = {i: (r or "").split(":")[0] for i, r in enumerate(s["reason"].to_list())}
    assert reasons[1] == "failed" and reasons[12] == "diverged" and reasons[10] == "not finished"
    assert reasons[6] == "outlier"
    assert [i for i, r in reasons.items() if r] == [1, 6, 10, 12]
    used = s.filter(pl.col("used"))
    rep = budget_report(isoflop_minima(used["C"], used["N"], used["L"]), s)
    row = rep.row(0, named=True)
    assert row["n_cells"] == 13 and row["n_points"] == 9 and row["n_excluded"] == 4
    assert row["excluded"] == "1 diverged; 1 failed; 1 not finished; 1 outlier"
    # the outlier would have moved the vertex; without it the true optimum is recovered
    assert abs(np.log(row["N_opt"] / 1e8)) < 0.1


def test_clean_profile_excludes_nothing(rng):
    C, N, L = _profile(1e19, 1e8, k=12, noise=0.002, rng=rng)
    assert screen_cells(C, N, L)["used"].all()


def test_envelope_flags_edge_winners():
    """Chinchilla-surface training curves of five sizes: interior C are won by a middle size (bracketed), the
    extremes by the only size covering them (edge); a sweep whose largest model always wins is all edge."""
    from analysis.laws import chinchilla_loss

    ids, N, C, L = [], [], [], []
    for n in np.logspace(7, 9, 5):
        d = np.logspace(np.log10(n), np.log10(n) + 2.5, 30)
        ids += [f"{n:.0e}"] * 30
        N += [n] * 30
        C += list(6 * n * d)
        L += list(chinchilla_loss(n, d, 1.69, 406.4, 410.7, 0.34, 0.28))
    env = training_curve_envelope(ids + ["lonely"], N + [5e8], C + [1e18], L + [3.0], n_grid=200)
    frac = fit_envelope_allocation(env).derived["edge_fraction"]
    assert 0.0 < frac < 1.0
    assert env["edge"][0] and env["edge"][-1]  # only one size covers the smallest and largest C
    assert envelope_runs_excluded(ids + ["lonely"], C + [1e18]) == ["lonely"]
    # non-crossing curves: the largest model wins at every C it covers with another model
    big = [i for i, n in enumerate(N) if n == max(N)]
    small = [i for i, n in enumerate(N) if n == min(N)]
    sel = big + small
    Lb = [L[i] - (1.0 if i in big else 0.0) for i in sel]
    env2 = training_curve_envelope(
        [ids[i] for i in sel], [N[i] for i in sel], [C[i] for i in sel], Lb, n_grid=100
    )
    assert env2["edge"].all()
