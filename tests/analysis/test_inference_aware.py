"""Tests for analysis.inference_aware (Sardana et al. 2024, arXiv 2401.00448)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.inference_aware import inference_aware_optimum, tokens_for_loss

UNROUNDED = dict(
    E=math.exp(0.5267228),
    A=math.exp(6.0073404),
    B=math.exp(6.0179186),
    alpha=0.33917084,
    beta=0.2849083,
)
ROUNDED = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)


def chinchilla_optimal_tokens(p, N):
    """D_opt for a given N_opt from the closed form N_opt = G (C/6)^a, D_opt = (C/6)^b / G."""
    a = p["beta"] / (p["alpha"] + p["beta"])
    G = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1 / (p["alpha"] + p["beta"]))
    c6 = (N / G) ** (1 / a)
    return c6 / N


def loss(p, N, D):
    return p["E"] + p["A"] * N ** -p["alpha"] + p["B"] * D ** -p["beta"]


def test_sardana_example_unrounded():
    D0 = chinchilla_optimal_tokens(UNROUNDED, 13e9)
    assert D0 == pytest.approx(617e9, rel=1e-3)
    target = loss(UNROUNDED, 13e9, D0)
    assert round(target, 4) == 2.0238
    r = inference_aware_optimum(UNROUNDED, target, 2e12)
    assert r["N0"] == pytest.approx(13e9, rel=1e-6)
    assert r["D0"] == pytest.approx(D0, rel=1e-6)
    assert r["N"] == pytest.approx(7.12e9, rel=5e-3)  # METHODS.md s.5: 7.1B
    assert r["D"] == pytest.approx(1.295e12, rel=5e-3)  # 1.30T
    assert r["tokens_per_param"] == pytest.approx(181.9, abs=0.5)  # ~182
    assert r["saving_flops"] == pytest.approx(1.63e22, rel=5e-3)
    assert round(r["saving_fraction"], 3) == 0.163
    assert loss(UNROUNDED, r["N"], r["D"]) == pytest.approx(target, abs=1e-9)
    assert r["total_flops"] == pytest.approx(6 * r["N"] * r["D"] + 2 * r["N"] * 2e12)


def test_sardana_example_rounded():
    D0 = chinchilla_optimal_tokens(ROUNDED, 13e9)
    r = inference_aware_optimum(ROUNDED, loss(ROUNDED, 13e9, D0), 2e12)
    assert r["N"] == pytest.approx(8.0e9, rel=0.01)
    assert r["saving_fraction"] == pytest.approx(0.10, abs=0.005)


def test_no_inference_is_chinchilla_and_demand_shrinks_model():
    target = 2.1
    r0 = inference_aware_optimum(UNROUNDED, target, 0.0)
    assert r0["N"] == pytest.approx(r0["N0"], rel=1e-6)
    assert r0["saving_flops"] == pytest.approx(0.0, abs=1e-6 * r0["total_flops"])
    sizes = [inference_aware_optimum(UNROUNDED, target, d)["N"] for d in (1e11, 1e12, 1e13)]
    assert sizes[0] > sizes[1] > sizes[2]


def test_tokens_for_loss_and_errors():
    d = tokens_for_loss(UNROUNDED, 2.0238456965, 13e9)[0]
    assert d == pytest.approx(617.4e9, rel=1e-3)
    assert np.isinf(tokens_for_loss(UNROUNDED, 2.0, 1e6)[0])  # too small to ever reach 2.0
    with pytest.raises(ValueError, match="target_loss must be finite and > E"):
        inference_aware_optimum(UNROUNDED, 1.5, 1e12)
    with pytest.raises(ValueError, match="inference_tokens must be finite and >= 0"):
        inference_aware_optimum(UNROUNDED, 2.1, -1.0)
    with pytest.raises(ValueError, match="lacks"):
        inference_aware_optimum({"E": 1.0}, 2.1, 1e12)
    with pytest.raises(ValueError, match="must be > 0"):
        inference_aware_optimum({**UNROUNDED, "alpha": -0.1}, 2.1, 1e12)
    with pytest.raises(ValueError, match="N must be finite and > 0"):
        tokens_for_loss(UNROUNDED, 2.1, [0.0])
