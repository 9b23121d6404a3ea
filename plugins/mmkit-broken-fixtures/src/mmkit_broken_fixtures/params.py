"""Parameters of the broken components (standard library only: imported at CLI start)."""

from __future__ import annotations

from dataclasses import dataclass

from mmkit.params import param


@dataclass(frozen=True)
class BrokenSigmaParams:
    default_sigma: float = param(1e-4, gt=0, help="prior sigma")
    max_sigma_mult: float = param(10.0, ge=1, help="the cap it claims (and ignores)")
