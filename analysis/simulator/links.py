"""The links of the capability chain as vectorised closed forms (pure numpy/scipy).

Every function broadcasts over its array arguments so that the chain can be evaluated for all bootstrap replicates
(first axis) and many decisions (later axes) at once. Sources: Hoffmann et al. 2022 (arXiv 2203.15556), Besiroglu
et al. 2024 (arXiv 2404.10102), Sardana et al. 2024 (arXiv 2401.00448), Roberts et al. 2026 "Train-to-Test"
(T^2, arXiv 2604.01411), Snell et al. 2024 (arXiv 2408.03314), Khatri et al. 2025 "ScaleRL" (arXiv 2510.13786),
Wu et al. 2024 (arXiv 2408.00724). The formulas are collected in docs SIMULATOR.md sections 0-6.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import betaln, expit, gammaln

__all__ = [
    "beta_pass_at_k",
    "beta_failure_asymptote",
    "chinchilla_optimum",
    "coverage_two_point",
    "elasticity_ratio",
    "flops_matched_multiplier",
    "loss",
    "majority_at_k",
    "parity_training_share",
    "samples_per_token_budget",
    "scaled_logistic",
    "scalerl_fraction",
    "scalerl_gain",
    "t2_approach1_loss",
    "t2_optimal_N",
    "wu_optimal_n",
]


def loss(
    N: ArrayLike, D: ArrayLike, E: ArrayLike, A: ArrayLike, B: ArrayLike, alpha: ArrayLike, beta: ArrayLike
):
    """Chinchilla loss L(N, D) = E + A / N**alpha + B / D**beta (nats/token), broadcast over all arguments.

    Parameters
    ----------
    N, D : array_like
        Parameters and training tokens (> 0).
    E, A, B, alpha, beta : array_like
        Law constants (E nats/token).

    Returns
    -------
    ndarray
        Loss, broadcast shape. No validation (hot path): callers validate once.

    Notes
    -----
    Hoffmann et al. 2022, arXiv 2203.15556, Eq. 2.
    """
    return E + A * np.power(N, -alpha) + B * np.power(D, -beta)


def chinchilla_optimum(params: Mapping[str, float], C: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form compute-optimal N*(C), D*(C) under 6 N D = C.

    G = (alpha A / (beta B))**(1/(alpha+beta)), N* = G (C/6)**(beta/(alpha+beta)), D* = C / (6 N*).

    Parameters
    ----------
    params : mapping
        ``A``, ``B``, ``alpha``, ``beta`` (> 0).
    C : array_like
        Training compute, FLOPs (> 0).

    Returns
    -------
    (ndarray, ndarray)
        N* (parameters) and D* (tokens).

    Raises
    ------
    ValueError
        Non-positive constants or compute.

    Notes
    -----
    Hoffmann et al. 2022 (arXiv 2203.15556) App. D; SIMULATOR.md s.0: Besiroglu constants give N* = 7.22e10 and
    D/N = 18.4 at 5.76e23 FLOPs.
    """
    A, B, al, be = (float(params[k]) for k in ("A", "B", "alpha", "beta"))
    c = np.asarray(C, dtype=float)
    if min(A, B, al, be) <= 0 or np.any(c <= 0):
        raise ValueError("A, B, alpha, beta and C must be > 0")
    G = (al * A / (be * B)) ** (1.0 / (al + be))
    n = G * (c / 6.0) ** (be / (al + be))
    return n, c / (6.0 * n)


def elasticity_ratio(params: Mapping[str, float], N: float, D: float) -> float:
    """eps_N / eps_D with eps_N = alpha A N**-alpha and eps_D = beta B D**-beta (dimensionless).

    At an optimum of 6 N D + 2 N T under fixed loss, eps_N / eps_D = 1 + T / (3 D) (Sardana et al. 2024,
    arXiv 2401.00448; SIMULATOR.md s.2.1: 1.534 for the 13B example). Raises ValueError for N or D <= 0.
    """
    if N <= 0 or D <= 0:
        raise ValueError("N and D must be > 0")
    eps_n = params["alpha"] * params["A"] * N ** (-params["alpha"])
    eps_d = params["beta"] * params["B"] * D ** (-params["beta"])
    return float(eps_n / eps_d)


def scaled_logistic(x: ArrayLike, theta0: ArrayLike, theta1: ArrayLike, theta2: ArrayLike) -> np.ndarray:
    """Single-sample accuracy mu(x) = theta2 / (1 + exp(theta1 (x - theta0))) (fraction).

    Parameters
    ----------
    x : array_like
        Loss (here the reducible loss L - E, nats/token).
    theta0 : array_like
        Midpoint loss; theta1 > 0 steepness (per nat); theta2 in (0, 1] ceiling.

    Returns
    -------
    ndarray
        Accuracy in [0, theta2].

    Notes
    -----
    T^2 Approach 2 (Roberts et al. 2026, arXiv 2604.01411) mean link; Llama-3-style loss-to-accuracy sigmoid.
    """
    return theta2 * expit(-theta1 * (np.asarray(x, dtype=float) - theta0))


def beta_pass_at_k(mu: ArrayLike, nu: ArrayLike, k: ArrayLike) -> np.ndarray:
    """pass@k with an oracle verifier when per-question accuracy p ~ Beta(mu nu, (1 - mu) nu).

    pass@k = 1 - B(a, b + k) / B(a, b), a = mu nu, b = (1 - mu) nu; k may be fractional (>= 1; the Beta function
    interpolates between integers).

    Parameters
    ----------
    mu : array_like
        Mean single-sample accuracy, in (0, 1); clipped to [1e-12, 1 - 1e-12].
    nu : array_like
        Beta concentration (> 0): small nu = heavy-tailed difficulty, large nu = every question alike.
    k : array_like
        Samples per question (>= 1).

    Returns
    -------
    ndarray
        pass@k in [0, 1], broadcast shape. At k = 1 it equals mu exactly (B(a, b+1)/B(a, b) = b/(a+b)).

    Notes
    -----
    T^2 Approach 2, Roberts et al. 2026, arXiv 2604.01411, s.3; SIMULATOR.md s.1.3.
    """
    m = np.clip(np.asarray(mu, dtype=float), 1e-12, 1 - 1e-12)
    v = np.asarray(nu, dtype=float)
    a, b = m * v, (1.0 - m) * v
    return -np.expm1(betaln(a, b + k) - betaln(a, b))


def beta_failure_asymptote(mu: float, nu: float, k: ArrayLike) -> np.ndarray:
    """Large-k failure rate of :func:`beta_pass_at_k`: 1 - pass@k ~ Gamma(a+b)/Gamma(b) k**-a (a = mu nu).

    Notes
    -----
    SIMULATOR.md s.1.3 (T^2, arXiv 2604.01411; Schaeffer et al. 2025, arXiv 2502.17578).
    """
    a, b = mu * nu, (1 - mu) * nu
    return np.exp(gammaln(a + b) - gammaln(b)) * np.asarray(k, dtype=float) ** (-a)


#: Probabilists' Gauss-Hermite nodes and weights (8 points) for the majority-vote expectation.
_HERM_Z, _HERM_W = np.polynomial.hermite_e.hermegauss(8)
_HERM_W = _HERM_W / _HERM_W.sum()


def majority_at_k(mu: ArrayLike, nu: ArrayLike, k: ArrayLike, wrong_share: float = 0.5) -> np.ndarray:
    """Majority-vote accuracy maj@k without a verifier, saturating below 1 (assumption [A]).

    Per question with single-sample accuracy p, the most common wrong answer has probability q = wrong_share (1-p).
    Majority voting over k samples is right when the correct answer's count beats that wrong answer's; with the
    normal approximation P(right | p) = Phi(sqrt(k) (p - q) / sd), which tends to 1[p > p*], p* = w / (1 + w), as k
    grows (the saturation of Wu et al. 2024, arXiv 2408.00724, Theorems 1-2). Linearising the argument at the
    decision boundary p* (where sd = sqrt(2 p*)), the mean over p ~ Beta(mu nu, (1 - mu) nu) is
    E_Z[1 - I_{p* - Z s_k}(a, b)], s_k = sqrt(2 p*) / (sqrt(k) (1 + w)), Z ~ N(0, 1) on 8 Gauss-Hermite nodes (a
    regularised incomplete Beta I per node; within ~2 points of a Monte-Carlo draw of the same model). Between
    k = 1 (exactly mu) and k = 2 the value is blended linearly in log2 k.

    Parameters
    ----------
    mu, nu, k : array_like
        As :func:`beta_pass_at_k`.
    wrong_share : float
        Share of the wrong mass on the most popular wrong answer, in (0, 1] (1 = binary answers). Assumption [A].

    Returns
    -------
    ndarray
        maj@k in [0, 1], broadcast shape of (mu, nu, k).

    Raises
    ------
    ValueError
        wrong_share outside (0, 1].
    """
    from scipy.special import betainc

    if not 0 < wrong_share <= 1:
        raise ValueError(f"wrong_share must be in (0, 1], got {wrong_share}")
    m = np.clip(np.asarray(mu, dtype=float), 1e-9, 1 - 1e-9)
    v = np.asarray(nu, dtype=float)
    kk = np.maximum(np.asarray(k, dtype=float), 1.0)
    m, v, kk = np.broadcast_arrays(m, v, kk)
    p_star = wrong_share / (1.0 + wrong_share)
    s = np.sqrt(2.0 * p_star) / (np.sqrt(kk) * (1.0 + wrong_share))
    t = np.clip(p_star - s[..., None] * _HERM_Z, 0.0, 1.0)
    acc = ((1.0 - betainc((m * v)[..., None], ((1.0 - m) * v)[..., None], t)) * _HERM_W).sum(axis=-1)
    w = np.clip(np.log2(kk), 0.0, 1.0)
    return (1 - w) * m + w * acc


def scalerl_fraction(C: ArrayLike, B: ArrayLike, C_mid: ArrayLike) -> np.ndarray:
    """Fraction of the asymptotic RL gain reached after C GPU-hours: 1 / (1 + (C_mid / C)**B); 0 at C = 0.

    Notes
    -----
    Khatri et al. 2025 (ScaleRL), arXiv 2510.13786, Eq. 1. SIMULATOR.md s.5.1: 0.972 at 16k GPU-h for the 8B run
    (C_mid 2542, B 1.92); 0.930 at 50k for batch 2048 (10909, 1.70).
    """
    c = np.asarray(C, dtype=float)
    with np.errstate(divide="ignore", over="ignore"):
        return np.where(c > 0, 1.0 / (1.0 + np.power(C_mid / np.where(c > 0, c, 1.0), B)), 0.0)


def scalerl_gain(R0: ArrayLike, A: ArrayLike, B: ArrayLike, C_mid: ArrayLike, C: ArrayLike) -> np.ndarray:
    """ScaleRL pass rate after C GPU-hours of RL started at R0: R0 + max(A - R0, 0) / (1 + (C_mid / C)**B).

    The gain is clipped at 0 when the ceiling A is below the start (RL is then assumed not to hurt) [A].
    R(C_mid) = (R0 + A) / 2 (the midpoint identity). Khatri et al. 2025, arXiv 2510.13786, Eq. 1.
    """
    return R0 + np.maximum(A - R0, 0.0) * scalerl_fraction(C, B, C_mid)


def t2_approach1_loss(N, D, k, E, A, B, alpha, beta, G, gamma):
    """T^2 Approach 1 task loss L(N, D, k) = E + A/N^alpha + B/D^beta + G/k^gamma (nats).

    At k = 1 it is Chinchilla with E' = E + G. Roberts et al. 2026, arXiv 2604.01411, s.3.1.
    """
    return E + A * np.power(N, -alpha) + B * np.power(D, -beta) + G * np.power(k, -gamma)


def samples_per_token_budget(C_inf: ArrayLike, N: ArrayLike) -> np.ndarray:
    """Samples k = C_inf / (2 N) that a per-token inference budget C_inf (FLOPs) buys a model of N parameters.

    SIMULATOR.md s.1.5 (T^2, arXiv 2604.01411): 27.0 at 37M and 1.11 at 901M for C_inf = 2e9.
    """
    return np.asarray(C_inf, dtype=float) / (2.0 * np.asarray(N, dtype=float))


def flops_matched_multiplier(M: ArrayLike, R: ArrayLike) -> np.ndarray:
    """Snell et al.'s FLOPs-matched test-time multiplier M + 3 (M - 1) / R, R = D_inference / D_pretrain.

    The factor by which a small model's inference budget grows to match the total FLOPs of an M-times larger model.
    Snell et al. 2024, arXiv 2408.03314, s.7; SIMULATOR.md s.4: 257.75, 63.37, 15.77 at M = 14, R = 0.16, 0.79, 22.
    """
    M = np.asarray(M, dtype=float)
    return M + 3.0 * (M - 1.0) / np.asarray(R, dtype=float)


def parity_training_share(train_ooms: float, inference_ooms: float) -> float:
    """Erdil's parity rule: if train_ooms of training substitute for inference_ooms of inference at constant
    elasticity, the cost-minimising training share is inference_ooms / (train_ooms + inference_ooms).

    Erdil 2024 (Epoch blog), SIMULATOR.md s.3.2: 1:1 gives 0.5; 1 OOM for 1.5 OOM gives 0.6.
    """
    if train_ooms <= 0 or inference_ooms <= 0 or not math.isfinite(train_ooms + inference_ooms):
        raise ValueError("both spans must be positive")
    return inference_ooms / (train_ooms + inference_ooms)


def t2_optimal_N(params: Mapping[str, float], G: float, gamma: float, C_train: float, C_inf: float) -> float:
    """Model size minimising T^2 Approach 1's loss under 6 N D = C_train and k = max(C_inf / (2 N), 1).

    Parameters
    ----------
    params : mapping
        Chinchilla ``E, A, B, alpha, beta``.
    G, gamma : float
        The repeated-sampling term G / k^gamma (G >= 0, gamma > 0).
    C_train : float
        Training FLOPs (> 0).
    C_inf : float
        Inference FLOPs per served token (> 0; ``inf`` gives Chinchilla's N*).

    Returns
    -------
    float
        N (parameters).

    Notes
    -----
    Roberts et al. 2026, arXiv 2604.01411, s.3.1 (k = C_inf / (2 N) inside the G term); the k >= 1 floor is an
    assumption [A] (the paper does not constrain k).
    """
    from scipy.optimize import minimize_scalar

    p = {k: float(params[k]) for k in ("E", "A", "B", "alpha", "beta")}
    n_star = float(chinchilla_optimum(p, C_train)[0])

    def f(logn):
        n = math.exp(logn)
        k = max(C_inf / (2 * n), 1.0) if math.isfinite(C_inf) else math.inf
        tt = 0.0 if not math.isfinite(k) else G * k ** (-gamma)
        return float(loss(n, C_train / (6 * n), p["E"], p["A"], p["B"], p["alpha"], p["beta"])) + tt

    grid = np.linspace(math.log(n_star) - 12, math.log(n_star) + 3, 400)
    i = int(np.argmin([f(g) for g in grid]))
    res = minimize_scalar(
        f, bounds=(grid[max(i - 1, 0)], grid[min(i + 1, 399)]), method="bounded", options={"xatol": 1e-10}
    )
    return math.exp(float(res.x))


def coverage_two_point(k1: float, c1: float, k2: float, c2: float) -> tuple[float, float]:
    """Exponentiated power law c(k) = exp(a k^b) through two (samples, coverage) points.

    Returns (a, b) with a < 0, b < 0 for rising coverage. Brown et al. 2024 "Large Language Monkeys", arXiv
    2407.21787, Eq. 3; SIMULATOR.md s.6.1: (1, 0.159) and (250, 0.56) give a = -1.839, b = -0.209, c(5) = 0.269.
    Raises ValueError unless 0 < c < 1, k > 0 and k1 != k2.
    """
    if not (0 < c1 < 1 and 0 < c2 < 1 and k1 > 0 and k2 > 0 and k1 != k2):
        raise ValueError("need 0 < c < 1, k > 0 and two different k")
    b = math.log(math.log(c2) / math.log(c1)) / math.log(k2 / k1)
    a = math.log(c1) / k1**b
    return a, b


def wu_optimal_n(C_question: ArrayLike) -> np.ndarray:
    """Compute-optimal model size for an inference budget per question, log10 C = 1.19 log10 N + 2.03.

    Wu et al. 2024 "Inference Scaling Laws", arXiv 2408.00724, Fig. 1 (Pythia); SIMULATOR.md s.6.2: 1.65e9 at
    1e13 FLOPs per question.
    """
    return np.power(10.0, (np.log10(np.asarray(C_question, dtype=float)) - 2.03) / 1.19)
