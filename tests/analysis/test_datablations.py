"""Tests for analysis.datablations (Muennighoff et al. 2023, arXiv 2305.16264)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from analysis.datablations import (
    DATABLATIONS_PUBLISHED,
    datablations_loss,
    effective_data,
    effective_params,
)


def test_published_r2_on_default_fit_set(shared_data):
    d = pl.read_csv(shared_data / "datablations_data_constrained" / "data_constrained_val_losses.csv").filter(
        pl.col("in_default_fit_set")
    )
    assert d.height == 182
    pred = datablations_loss(d["params"], d["tokens"], d["unique_tokens"])
    y = d["val_loss"].to_numpy()
    r2 = 1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2)
    assert round(r2, 4) == 0.7722


def test_single_epoch_reduces_to_base_law():
    p = DATABLATIONS_PUBLISHED
    N, D = 1e8, 2e9  # U = D: one epoch; N below N_opt(U) = (A/B)^(1/alpha) U
    assert N < (p["A"] / p["B"]) ** (1 / p["alpha"]) * D
    base = p["E"] + p["A"] / N ** p["alpha"] + p["B"] / D ** p["beta"]
    assert datablations_loss(N, D, D)[0] == pytest.approx(base, rel=1e-12)


def test_repetition_saturates():
    U, R = 1e9, DATABLATIONS_PUBLISHED["R_D_star"]
    assert effective_data(4e9, U, R)[0] == pytest.approx(U * (1 + R * (1 - math.exp(-3 / R))))
    # infinitely many epochs are worth at most (1 + R_D*) U unique tokens
    assert effective_data(1e15, U, R)[0] == pytest.approx(U * (1 + R), rel=1e-9)
    # four epochs are nearly as good as unique data (the paper's headline): > 90% of 4U
    assert effective_data(4e9, U, R)[0] / 4e9 > 0.9
    # fewer tokens than the unique pool: no repetition, D' = D
    assert effective_data(5e8, U, R)[0] == pytest.approx(5e8)
    # excess parameters are worth less than their count
    assert effective_params(1e11, 1e9, DATABLATIONS_PUBLISHED)[0] < 1e11


def test_errors():
    with pytest.raises(ValueError, match="N must be finite and > 0"):
        datablations_loss(0.0, 1e9, 1e9)
    with pytest.raises(ValueError, match="U contains NaN"):
        datablations_loss(1e8, 1e9, np.nan)
    with pytest.raises(ValueError, match="same shape"):
        datablations_loss([1e8, 2e8], [1e9], [1e9])
    with pytest.raises(ValueError, match="lacks"):
        datablations_loss(1e8, 1e9, 1e9, {"E": 1.0})
    with pytest.raises(ValueError, match="N is empty"):
        datablations_loss([], [], [])
