"""Costs in one unit: FLOPs per phase, converted to GPU-hours and dollars.

FLOPs: 6 N D for pretraining; 2 N per inference token, the prompt processed once and the generated tokens counted
for every sample (Brown et al. 2024, arXiv 2407.21787); RL in FLOPs (or GPU-hours through its own throughput).
Dollars: $ = FLOP x price_per_GPU_hour / (3600 x peak_FLOP/s x MFU), with the MFU applied per phase (Sardana et al.
2024, arXiv 2401.00448, ``cost_calculator.py``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["PHASES", "Costs", "serving_flops"]

PHASES = ("train", "prefill", "decode", "rl")


@dataclass(frozen=True)
class Costs:
    """Hardware and price per phase.

    Defaults: H100 dense BF16 peak 9.89e14 FLOP/s and $2.00 per GPU-hour (Sardana's calculator defaults); MFU
    train 0.5, prefill 0.4, decode 0.2 (Sardana's README example; the calculator's CLI default decode MFU is 0.01).
    RL: GB200-class peak 2.5e15 FLOP/s [A] (ScaleRL measures GB200 GPU-hours) at MFU 0.2 [A] (rollout generation,
    i.e. decode, dominates RL cost), $2.00/h [A].

    Attributes
    ----------
    peak_flops : float
        Peak FLOP/s of the training GPU.
    price_per_gpu_hour : float
        US dollars per training GPU-hour.
    infer_peak_flops, infer_price_per_gpu_hour : float
        The inference GPU's peak FLOP/s and price (prefill and decode; default the same H100 at $2.00/h in BF16).
    mfu_train, mfu_prefill, mfu_decode, mfu_rl : float
        Model FLOPs utilisation per phase, in (0, 1].
    rl_peak_flops, rl_price_per_gpu_hour : float
        The RL GPU's peak FLOP/s and price.
    """

    peak_flops: float = 9.89e14
    price_per_gpu_hour: float = 2.0
    infer_peak_flops: float = 9.89e14
    infer_price_per_gpu_hour: float = 2.0
    mfu_train: float = 0.5
    mfu_prefill: float = 0.4
    mfu_decode: float = 0.2
    mfu_rl: float = 0.2
    rl_peak_flops: float = 2.5e15
    rl_price_per_gpu_hour: float = 2.0

    def __post_init__(self):
        for k, v in asdict(self).items():
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{k} must be a positive number, got {v}")
        for k in ("mfu_train", "mfu_prefill", "mfu_decode", "mfu_rl"):
            if getattr(self, k) > 1:
                raise ValueError(f"{k} must be <= 1, got {getattr(self, k)}")

    def gpu_hours(self, flops: float, phase: str) -> float:
        """GPU-hours to run ``flops`` in ``phase`` (one of PHASES): FLOPs / (3600 x peak x MFU)."""
        peak = {
            "rl": self.rl_peak_flops,
            "prefill": self.infer_peak_flops,
            "decode": self.infer_peak_flops,
        }.get(phase, self.peak_flops)
        return float(flops) / (3600.0 * peak * getattr(self, f"mfu_{phase}"))

    def usd_per_flop(self, phase: str) -> float:
        """Dollars per FLOP in ``phase``: price / (3600 x peak x MFU) (Sardana et al. 2024, arXiv 2401.00448)."""
        price = {
            "rl": self.rl_price_per_gpu_hour,
            "prefill": self.infer_price_per_gpu_hour,
            "decode": self.infer_price_per_gpu_hour,
        }.get(phase, self.price_per_gpu_hour)
        return price * self.gpu_hours(1.0, phase)

    def usd(self, flops: float, phase: str) -> float:
        """Dollars for ``flops`` in ``phase``."""
        return float(flops) * self.usd_per_flop(phase)

    def weights(self, unit: str) -> dict[str, float]:
        """Cost of one FLOP per phase in ``unit`` ("flops": all 1; "usd": dollars per FLOP).

        Raises ValueError for another unit.
        """
        if unit == "flops":
            return dict.fromkeys(PHASES, 1.0)
        if unit == "usd":
            return {p: self.usd_per_flop(p) for p in PHASES}
        raise ValueError(f"unit must be 'flops' or 'usd', got {unit!r}")


def serving_flops(N, queries: float, prompt_tokens: float, output_tokens: float, k) -> tuple:
    """Lifetime serving FLOPs (prefill, decode) for Q queries of k samples each.

    prefill = 2 N Q T_in (the prompt once per query), decode = 2 N Q k T_out (every sample generates).
    Arrays broadcast. Brown et al. 2024, arXiv 2407.21787; SIMULATOR.md s.8 (lifetime cost).
    """
    N = np.asarray(N, dtype=float)
    return 2.0 * N * queries * prompt_tokens, 2.0 * N * queries * np.asarray(k, dtype=float) * output_tokens
